// PLACEHOLDER written by hand from the Rust DTOs until ts-rs generates this file
// (`cargo test -p casebook-api`). Delete it once the generated file exists.
import type { FacetValue } from "./FacetValue";

export type Facets = { assignees: Array<FacetValue>, groups: Array<FacetValue>, tags: Array<FacetValue>, sources: Array<FacetValue>, };

import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { markPlatform } from "./lib/platform";
import { markStartup } from "./lib/startup";

markStartup("script");
// Before anything is laid out: the stylesheet picks its font stack by platform (app.css).
markPlatform(document.documentElement, navigator.userAgent);

const target = document.getElementById("app");
if (!target) throw new Error("#app element missing from index.html");

export default mount(App, { target });

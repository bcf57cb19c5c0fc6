// Connections and sign-in (issue 4): one typed wrapper per app command. Secrets only go in
// (`setConnectionSecret`); no command returns one.
import type { ConnectionTestReport } from "../bindings/ConnectionTestReport";
import type { ConnectionView } from "../bindings/ConnectionView";
import type { NewConnectionInput } from "../bindings/NewConnectionInput";
import type { SignInStart } from "../bindings/SignInStart";
import { call } from "./client";

export const listConnections = () => call<ConnectionView[]>("list_connections");

export const addConnection = (input: NewConnectionInput) =>
  call<ConnectionView>("add_connection", { input });

export const renameConnection = (id: number, name: string) =>
  call<ConnectionView>("rename_connection", { id, name });

export const setConnectionKbSpaces = (id: number, spaces: string[]) =>
  call<ConnectionView>("set_connection_kb_spaces", { id, spaces });

export const removeConnection = (id: number) => call<void>("remove_connection", { id });

export const testConnection = (id: number) => call<ConnectionTestReport>("test_connection", { id });

export const setConnectionSecret = (id: number, secret: string) =>
  call<ConnectionTestReport>("set_connection_secret", { id, secret });

export const deleteConnectionSecret = (id: number) =>
  call<ConnectionView>("delete_connection_secret", { id });

export const beginSignIn = (id: number) => call<SignInStart>("begin_sign_in", { id });

export const finishSignIn = (attemptId: string) =>
  call<ConnectionTestReport>("finish_sign_in", { attemptId });

export const cancelSignIn = (attemptId: string) => call<void>("cancel_sign_in", { attemptId });

// SLA, macros and KPI reports (issue 7): one typed wrapper per app command.
import type { Macro } from "../bindings/Macro";
import type { MacroInput } from "../bindings/MacroInput";
import type { MacroPreview } from "../bindings/MacroPreview";
import type { NotificationStatus } from "../bindings/NotificationStatus";
import type { Report } from "../bindings/Report";
import type { ReportFilter } from "../bindings/ReportFilter";
import type { SlaBadge } from "../bindings/SlaBadge";
import type { SlaNotifySettings } from "../bindings/SlaNotifySettings";
import type { TicketSla } from "../bindings/TicketSla";
import type { TicketView } from "../bindings/TicketView";
import { call } from "./client";

export const ticketSla = (id: number) => call<TicketSla>("ticket_sla", { id });

export const slaBadges = (ids: number[]) => call<SlaBadge[]>("sla_badges", { ids });

export const slaRisk = (limit?: number) => call<SlaBadge[]>("sla_risk", { limit: limit ?? null });

export const listMacros = () => call<Macro[]>("list_macros");

export const previewMacro = (input: MacroInput) => call<MacroPreview>("preview_macro", { input });

export const applyMacro = (input: MacroInput) => call<TicketView>("apply_macro", { input });

export const kpiReport = (filter: ReportFilter) => call<Report>("kpi_report", { filter });

export const kpiReportCsv = (filter: ReportFilter) => call<string>("kpi_report_csv", { filter });

export const slaNotifySettings = () => call<SlaNotifySettings>("sla_notify_settings");

export const setSlaNotifySettings = (settings: SlaNotifySettings) =>
  call<SlaNotifySettings>("set_sla_notify_settings", { settings });

export const slaNotificationStatus = () => call<NotificationStatus>("sla_notification_status");

/** The ticket the window shows (`null`: none); no breach warning comes for it. */
export const setFocusedTicket = (id: number | null) => call<void>("set_focused_ticket", { id });

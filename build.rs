//! Tauri's build step: reads tauri.conf.json and the capabilities, and embeds the app's context.
//! The app's commands are declared here so that each needs an explicit grant in
//! `capabilities/main.json` (a test checks the grants match the commands the UI can call).

const COMMANDS: &[&str] = &[
    "app_info",
    "retry_open",
    "save_profile",
    "list_campaigns",
    "get_campaign",
    "form_fields",
    "step_offer",
    "form_defaults",
    "find",
    "sync_now",
    "refused_entries",
    "home",
    "stall_thresholds",
    "save_stall_thresholds",
    "record_event",
    "correct_event",
    "void_entry",
    "review_anomaly",
    "audit_key",
    "period_report",
    "save_period_report",
    "save_custody",
    "save_campaign_list",
    "save_audit_export",
    "save_period_audit_export",
    "set_training",
    "sync_status",
    "save_sync_settings",
    "ui_ready",
    "check_update",
    "install_update",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new().app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .expect("tauri build step");
}

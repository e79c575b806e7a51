//! Tauri's build step: reads tauri.conf.json and embeds the window's context.

fn main() {
    tauri_build::build();
}

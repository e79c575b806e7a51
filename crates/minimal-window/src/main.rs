//! The smallest Tauri 2 window: one static page, no commands, no plugins. `pluto-bench window`
//! measures its idle memory next to the app's, so the ratio shows what Pluto adds to what any
//! Tauri window on this machine costs.

fn main() {
    tauri::Builder::default().run(tauri::generate_context!()).expect("the window runs");
}

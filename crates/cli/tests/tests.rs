//! The `pluto` command's integration tests, in one binary: the real binary against real
//! database files (`cli`), syncing with a real server on loopback (`sync`), and the Windows
//! installer with the Windows `pluto.exe` under Wine (`windows`, run on the Linux host).

mod cli;
mod sync;
mod util;
#[cfg(target_os = "linux")]
mod windows;

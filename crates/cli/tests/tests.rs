//! The `pluto` command's integration tests, in one binary: the real binary against real
//! database files (`cli`), and syncing with a real server on loopback (`sync`).

mod cli;
mod sync;
mod util;

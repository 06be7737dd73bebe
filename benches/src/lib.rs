//! Benchmarks live in `benches/benches/`; `src/bin/ratios.rs` turns their estimates into
//! README's table. This library is empty on purpose.

//! Integration tests that drive the real `canalyst` binary, one module per area.

mod generate;

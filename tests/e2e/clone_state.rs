//! (being written)
#[allow(unused_imports)]
use crate::common::Env as _E;
use crate::common::*;

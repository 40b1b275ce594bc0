//! `git secrets filter-process`: what git runs as `filter.secrets.process`.

use crate::error::Error;

pub fn cmd_filter_process() -> Result<(), Error> {
    crate::filter::serve()
}

//! The web page's form, as step 06 reads it (its module, included as it
//! is): any body posted is read without panicking, and a count it accepts
//! is within the maximum.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../steps/06-testing-the-scheduler/src/form.rs"]
#[allow(dead_code)]
mod form;

fuzz_target!(|data: &[u8]| {
    let Some((&max, body)) = data.split_first() else {
        return;
    };
    let form = form::Form::read(body);
    if let Ok(count) = form::parse_count(&form.instances, usize::from(max)) {
        assert!(count <= usize::from(max));
    }
});

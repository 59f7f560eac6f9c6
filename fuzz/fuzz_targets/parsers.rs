//! Every parser of ThoughtSpot's answers — error bodies and their classification for each API
//! generation, `Retry-After`, the JSON reader of each response type, token and beta login
//! answers with their lifetime arithmetic — over arbitrary bytes: none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    thoughtspot_auth::session::fuzzing::parse_answers(data);
});

//! The handler's share of an event, stage by stage, in this process on
//! one core: what partout's request threads spend per event before the
//! writer sees it. The end-to-end rate mixes these with HTTP, the writer
//! and the machine's other load; this line says which stage to work on.
//!
//! The stages are partout's own functions, called as its Sentry endpoint
//! calls them: gunzip, parse and normalize the envelope, then prepare
//! (group, pick tags, serialize the stored body and compress it against
//! the dictionary; an event whose stack traces are its
//! dictionary's is stored without them). For scale, the line also gives
//! what serializing a whole event's JSON alone takes. The first round
//! gives every issue its dictionary, as the first event of an issue does
//! in partout; the figures are the rounds after it, when every event has
//! one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use partout::errors::dictionaries::Dictionary;
use partout::errors::envelope::parse_envelope_body;
use partout::errors::events::EncodedBody;
use partout::errors::prepare::prepare_all;
use partout::errors::ErrorsConfig;

/// Envelopes timed; a sample of the data set, every issue in it.
pub const SAMPLE: usize = 3_000;
/// Timed rounds over the sample, after the one that makes dictionaries.
const ROUNDS: usize = 3;

/// Time spent per stage over every timed event.
#[derive(Default)]
struct Spent {
    gunzip: Duration,
    parse: Duration,
    serialize: Duration,
    prepare: Duration,
    events: u32,
}

/// One line of per-event figures, or why there are none.
pub fn one_core(bodies: &[Vec<u8>]) -> String {
    match measure(bodies) {
        Ok(spent) if spent.events > 0 => {
            let per = |total: Duration| total.as_secs_f64() * 1e6 / f64::from(spent.events);
            format!(
                "handler stages, in process on one core: gunzip {:.1} µs, parse and normalize {:.1} µs, prepare {:.1} µs (a whole event's JSON alone: {:.1} µs); {:.1} µs an event in all ({} events: {} rounds over {} envelopes) [no target]",
                per(spent.gunzip),
                per(spent.parse),
                per(spent.prepare),
                per(spent.serialize),
                per(spent.gunzip + spent.parse + spent.prepare),
                spent.events,
                ROUNDS,
                bodies.len().min(SAMPLE),
            )
        }
        Ok(_) => "handler stages: FAILED: no event was read".to_owned(),
        Err(error) => format!("handler stages: FAILED: {error}"),
    }
}

fn measure(bodies: &[Vec<u8>]) -> Result<Spent, String> {
    let config = ErrorsConfig::default();
    let limit = config.envelope.max_envelope_bytes;
    let step = (bodies.len() / SAMPLE).max(1);
    let sample: Vec<&Vec<u8>> = bodies.iter().step_by(step).take(SAMPLE).collect();
    let dictionaries: Mutex<HashMap<String, Arc<Dictionary>>> = Mutex::new(HashMap::new());
    let lookup = |key: &str| {
        dictionaries
            .lock()
            .ok()
            .and_then(|held| held.get(key).cloned())
    };
    let mut spent = Spent::default();
    let received_at_ms = super::now_ms();
    for round in 0..=ROUNDS {
        for body in &sample {
            let started = Instant::now();
            let decoded = partout_protocols::gzip::gunzip(body, limit)
                .map_err(|error| format!("gunzip: {error}"))?;
            let gunzipped = Instant::now();
            let parsed = parse_envelope_body(&decoded, &config)
                .map_err(|error| format!("parse: {error}"))?;
            let parsed_at = Instant::now();
            let copies = parsed.events.clone();
            let serializing = Instant::now();
            for event in &copies {
                let json = serde_json::to_vec(event).map_err(|error| error.to_string())?;
                std::hint::black_box(json);
            }
            let serialized = serializing.elapsed();
            drop(copies);
            let preparing = Instant::now();
            let events = prepare_all(parsed, received_at_ms, &lookup)
                .map_err(|error| format!("prepare: {error}"))?;
            let prepared = preparing.elapsed();
            if round == 0 {
                remember_dictionaries(&dictionaries, &events)?;
                continue;
            }
            spent.gunzip += gunzipped - started;
            spent.parse += parsed_at - gunzipped;
            spent.serialize += serialized;
            spent.prepare += prepared;
            spent.events += u32::try_from(events.len()).unwrap_or(u32::MAX);
        }
    }
    Ok(spent)
}

/// Makes each offered body its issue's dictionary, as partout's writer
/// does for the first event of an issue.
fn remember_dictionaries(
    dictionaries: &Mutex<HashMap<String, Arc<Dictionary>>>,
    events: &[partout::errors::prepare::NewEvent],
) -> Result<(), String> {
    let mut held = dictionaries
        .lock()
        .map_err(|_| "dictionary map poisoned".to_owned())?;
    for event in events {
        if let EncodedBody::Offered(_) = event.body {
            if held.contains_key(&event.grouping.key) {
                continue;
            }
            let json = event.body.json().map_err(|error| error.to_string())?;
            let dictionary = Dictionary::new(1, json).ok_or("zstd refused a dictionary")?;
            held.insert(event.grouping.key.clone(), Arc::new(dictionary));
        }
    }
    Ok(())
}

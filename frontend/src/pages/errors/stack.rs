//! An event's exceptions and their stack frames, most recent call first:
//! the application's own frames stand out with their source lines, runs
//! of library frames fold into one line that opens on click. The grouping
//! and the numbering of source lines are pure (tested on the host).

use leptos::prelude::*;
use partout_model::errors::{EventException, EventFrame, EventStacktrace};

/// What a stack shows, top to bottom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameGroup {
    /// An application frame, shown open: its index in display order.
    App(usize),
    /// A run of library frames, folded: their indexes in display order.
    Library(Vec<usize>),
}

/// Groups frames (in display order) by whether each is the application's.
/// When no frame is marked as the application's (an SDK that cannot
/// tell), every frame is shown as one, since folding them all would hide
/// the whole stack.
pub fn group_frames(in_app: &[bool]) -> Vec<FrameGroup> {
    if !in_app.contains(&true) {
        return (0..in_app.len()).map(FrameGroup::App).collect();
    }
    let mut groups = Vec::new();
    for (index, app) in in_app.iter().enumerate() {
        if *app {
            groups.push(FrameGroup::App(index));
        } else if let Some(FrameGroup::Library(run)) = groups.last_mut() {
            run.push(index);
        } else {
            groups.push(FrameGroup::Library(vec![index]));
        }
    }
    groups
}

/// One line of source around a frame's line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeLine {
    /// The line number, when the frame has one.
    pub number: Option<u32>,
    pub text: String,
    /// The frame's own line: where the call or the error is.
    pub current: bool,
}

/// The frame's source lines: those before, its own, those after.
pub fn code_lines(frame: &EventFrame) -> Vec<CodeLine> {
    let Some(current) = &frame.context_line else {
        return Vec::new();
    };
    let before = u32::try_from(frame.pre_context.len()).unwrap_or(u32::MAX);
    let first = frame.lineno.map(|line| line.saturating_sub(before));
    let numbered =
        |offset: usize| first.and_then(|first| first.checked_add(u32::try_from(offset).ok()?));
    let mut lines: Vec<CodeLine> = frame
        .pre_context
        .iter()
        .enumerate()
        .map(|(offset, text)| CodeLine {
            number: numbered(offset),
            text: text.clone(),
            current: false,
        })
        .collect();
    lines.push(CodeLine {
        number: frame.lineno,
        text: current.clone(),
        current: true,
    });
    lines.extend(frame.post_context.iter().enumerate().map(|(offset, text)| {
        CodeLine {
            number: frame
                .lineno
                .and_then(|line| line.checked_add(u32::try_from(offset + 1).ok()?)),
            text: text.clone(),
            current: false,
        }
    }));
    lines
}

/// Where a frame is, for its heading: the file (else the module), or `?`.
fn frame_place(frame: &EventFrame) -> String {
    frame
        .filename
        .clone()
        .or_else(|| frame.abs_path.clone())
        .or_else(|| frame.module.clone())
        .unwrap_or_else(|| "?".to_owned())
}

/// The exception chain, the one raised last first.
#[component]
pub fn Exceptions(exceptions: Vec<EventException>) -> impl IntoView {
    let chained = exceptions.len() > 1;
    exceptions
        .into_iter()
        .rev()
        .enumerate()
        .map(|(position, exception)| {
            let heading = match (&exception.kind, &exception.value) {
                (Some(kind), Some(value)) => format!("{kind}: {value}"),
                (Some(kind), None) => kind.clone(),
                (None, Some(value)) => value.clone(),
                (None, None) => "Exception".to_owned(),
            };
            let unhandled = exception.handled == Some(false);
            view! {
                <section class="exception card">
                    {(chained && position > 0).then(|| view! { <p class="chain-note muted">"Raised while handling, or caused by:"</p> })}
                    <h3 class="exception-title">{heading}</h3>
                    <p class="exception-meta muted">
                        {exception.module.map(|module| view! { <span>"in module " <code>{module}</code></span> })}
                        {exception.mechanism.map(|mechanism| view! { <span>"captured by " <code>{mechanism}</code></span> })}
                        {unhandled.then(|| view! { <span class="status-badge unhandled">"unhandled"</span> })}
                    </p>
                    {exception.stacktrace.map(|trace| view! { <StackTrace trace /> })}
                </section>
            }
        })
        .collect_view()
}

/// Frames most recent call first, library runs folded.
#[component]
pub fn StackTrace(trace: EventStacktrace) -> impl IntoView {
    let frames: Vec<EventFrame> = trace.frames.into_iter().rev().collect();
    let in_app: Vec<bool> = frames.iter().map(|f| f.in_app == Some(true)).collect();
    let groups = group_frames(&in_app)
        .into_iter()
        .map(|group| match group {
            FrameGroup::App(index) => {
                let frame = frames[index].clone();
                view! { <Frame frame app=true /> }.into_any()
            }
            FrameGroup::Library(run) => {
                let count = run.len();
                let folded = run
                    .into_iter()
                    .map(|index| {
                        let frame = frames[index].clone();
                        view! { <Frame frame app=false /> }
                    })
                    .collect_view();
                view! {
                    <li class="library-frames">
                        <details>
                            <summary>{if count == 1 { "1 library frame".to_owned() } else { format!("{count} library frames") }}</summary>
                            <ol class="frames">{folded}</ol>
                        </details>
                    </li>
                }
                .into_any()
            }
        })
        .collect_view();
    view! {
        <p class="stack-caption muted">
            "Most recent call first"
            {(trace.frames_omitted > 0).then(|| format!("; {} frames omitted from the middle", trace.frames_omitted))}
        </p>
        <ol class="frames" data-testid="stack-frames">{groups}</ol>
    }
}

/// One frame: where, in which function, and the source around its line.
#[component]
fn Frame(frame: EventFrame, app: bool) -> impl IntoView {
    let code = code_lines(&frame)
        .into_iter()
        .map(|line| {
            view! {
                <div class="code-line" class:current=line.current>
                    <span class="lineno">{line.number.map(|n| n.to_string()).unwrap_or_default()}</span>
                    <span class="src">{line.text}</span>
                </div>
            }
        })
        .collect_view();
    let place = frame_place(&frame);
    view! {
        <li class="frame" class:in-app=app>
            <div class="frame-head">
                <span class="frame-file">{place}</span>
                {frame.function.map(|function| view! {
                    " in " <span class="frame-function">{function}</span>
                })}
                {frame.lineno.map(|line| view! {
                    " at line " <span class="frame-line">{line}</span>
                })}
                {app.then(|| view! { <span class="app-mark" title="The application's own code">"app"</span> })}
            </div>
            <div class="code">{code}</div>
        </li>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_runs_fold_between_app_frames() {
        use FrameGroup::{App, Library};
        assert_eq!(
            group_frames(&[true, false, false, true, false]),
            [App(0), Library(vec![1, 2]), App(3), Library(vec![4])]
        );
        // Nothing marked: nothing folded.
        assert_eq!(group_frames(&[false, false]), [App(0), App(1)]);
        assert!(group_frames(&[]).is_empty());
    }

    fn frame(lineno: Option<u32>, pre: &[&str], line: Option<&str>, post: &[&str]) -> EventFrame {
        EventFrame {
            filename: Some("shop/pay.py".into()),
            abs_path: None,
            function: Some("charge_card".into()),
            module: None,
            lineno,
            colno: None,
            in_app: Some(true),
            context_line: line.map(str::to_owned),
            pre_context: pre.iter().map(|s| (*s).to_owned()).collect(),
            post_context: post.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    #[test]
    fn source_lines_are_numbered_around_the_frame() {
        let lines = code_lines(&frame(Some(42), &["a", "b"], Some("raise"), &["c"]));
        let numbers: Vec<_> = lines.iter().map(|l| l.number).collect();
        assert_eq!(numbers, [Some(40), Some(41), Some(42), Some(43)]);
        let current: Vec<_> = lines
            .iter()
            .filter(|l| l.current)
            .map(|l| &l.text)
            .collect();
        assert_eq!(current, ["raise"]);
        // No line number: the text still shows.
        let unnumbered = code_lines(&frame(None, &["a"], Some("raise"), &[]));
        assert_eq!(unnumbered.len(), 2);
        assert!(unnumbered.iter().all(|l| l.number.is_none()));
        // No context line: nothing to show.
        assert!(code_lines(&frame(Some(1), &["a"], None, &[])).is_empty());
        assert_eq!(frame_place(&frame(None, &[], None, &[])), "shop/pay.py");
    }
}

//! `retry-marker`: a test marked to be re-run on failure (`@pytest.mark.flaky`, `@flaky`,
//! `@pytest.mark.retry`, tenacity's `@retry`): its failures are hidden, not fixed.

use super::RETRY_MARKER;
use crate::python::Cx;
use tree_sitter::Node;

pub(crate) fn decorators(cx: &mut Cx, decorators: &[Node]) {
    for d in decorators {
        let Some(expr) = d.named_child(0) else {
            continue;
        };
        let target = if expr.kind() == "call" {
            expr.child_by_field_name("function").unwrap_or(expr)
        } else {
            expr
        };
        let Some(q) = cx.qname(target) else { continue };
        let last = q.rsplit('.').next().unwrap_or(&q);
        if matches!(last, "flaky" | "retry" | "rerun" | "repeat_on_failure")
            || q.starts_with("flaky.")
        {
            let shown = format!("`@{}`", cx.text(target));
            cx.hit(&RETRY_MARKER, *d, shown);
        }
    }
}

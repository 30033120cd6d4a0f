//! What the Administration lists share: the page links that keep the search and filters,
//! and the sentence saying which of how many are shown.

/// The pagination of a list page: previous and next links (empty when there is none)
/// carrying the list's search and filters, and "Showing 21 to 40 of 45 entities".
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct Pager {
    /// The previous page's address, or empty.
    pub(crate) previous: String,
    /// The next page's address, or empty.
    pub(crate) next: String,
    /// Which are shown, of how many.
    pub(crate) summary: String,
}

impl Pager {
    /// The pager of page `number` of a list at `base` holding `shown` of `total` records
    /// (called `noun`), whose search and filters are `params` (blank ones left out).
    pub(crate) fn new(
        base: &str,
        params: &[(&str, &str)],
        number: usize,
        shown: usize,
        total: u64,
        noun: &str,
    ) -> Self {
        let size = tenure_core::Page::SCREEN;
        let link = |n: usize| {
            let mut url = form_urlencoded::Serializer::new(String::new());
            for (k, v) in params.iter().filter(|(_, v)| !v.is_empty()) {
                url.append_pair(k, v);
            }
            url.append_pair("page", &n.to_string());
            format!("{base}?{}", url.finish())
        };
        let before = number.saturating_sub(1).saturating_mul(size) as u64;
        let summary = if shown == 0 {
            String::new()
        } else {
            format!("Showing {} to {} of {total} {noun}", before + 1, before + shown as u64)
        };
        Self {
            previous: if number > 1 { link(number - 1) } else { String::new() },
            next: if before + (shown as u64) < total && shown > 0 {
                link(number + 1)
            } else {
                String::new()
            },
            summary,
        }
    }
}

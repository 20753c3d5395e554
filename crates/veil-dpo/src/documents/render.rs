//! The three renderings of a [`Document`]: Markdown and printable HTML
//! (JSON is serde's).

use std::fmt::Write as _;

use super::{Block, Document, TO_COMPLETE};
pub(crate) use veil_base::escape_html as escape;

/// Plain Markdown: `#` title, `##` sections, `###` headings within,
/// pipe tables with `|` escaped.
pub(super) fn markdown(d: &Document) -> String {
    let mut out = format!("# {}\n", one_line(&d.title));
    for s in &d.sections {
        let _ = write!(out, "\n## {}\n", one_line(&s.heading));
        for b in &s.blocks {
            out.push('\n');
            match b {
                Block::Heading { text } => {
                    let _ = writeln!(out, "### {}", one_line(text));
                }
                Block::Paragraph { text } => {
                    let _ = writeln!(out, "{}", text.trim_end());
                }
                Block::List { items } => {
                    for i in items {
                        let _ = writeln!(out, "- {}", one_line(i));
                    }
                }
                Block::Fields { rows } => {
                    for f in rows {
                        let _ =
                            writeln!(out, "- **{}:** {}", one_line(&f.label), one_line(&f.value));
                    }
                }
                Block::Table { columns, rows } => {
                    md_row(&mut out, columns);
                    md_row(&mut out, &vec!["---".to_string(); columns.len()]);
                    for r in rows {
                        md_row(&mut out, r);
                    }
                }
                Block::ToComplete { text } => {
                    let _ = writeln!(out, "> **{TO_COMPLETE}** {}", one_line(text));
                }
            }
        }
    }
    out
}

fn md_row(out: &mut String, cells: &[String]) {
    out.push('|');
    for c in cells {
        let _ = write!(out, " {} |", one_line(c).replace('|', "\\|"));
    }
    out.push('\n');
}

/// New lines (from notes) become spaces where Markdown needs one line.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of the HTML page's one `<style>` element, exactly: a server
/// sending the page allows it by its hash in `Content-Security-Policy`.
pub const HTML_STYLE: &str = "\n\
@page { size: A4; margin: 18mm }
html { color: #000; background: #fff }
body { font: 10.5pt/1.45 system-ui, sans-serif; max-width: 174mm; margin: 1em auto; padding: 0 1em }
h1 { font-size: 17pt; margin: 0 0 .6em }
h2 { font-size: 13pt; margin: 1.4em 0 .4em; border-bottom: 1px solid #999 }
h3 { font-size: 11pt; margin: 1em 0 .3em }
p, td, th, li { white-space: pre-line; overflow-wrap: anywhere }
table { border-collapse: collapse; width: 100%; margin: .4em 0 }
th, td { border: 1px solid #999; padding: .25em .45em; text-align: left; vertical-align: top }
thead th { background: #eee }
table.fields th { width: 32%; background: #f4f4f4; font-weight: 600 }
.to-complete { border: 1px dashed #555; padding: .4em .6em; background: #fafafa }
section.page-break { break-before: page; page-break-before: always }
@media print {
  body { margin: 0; padding: 0; max-width: none }
  h2, h3 { break-after: avoid }
  tr, li, .to-complete { break-inside: avoid }
}
";

/// One self-contained HTML page, printable on A4: no script, no external
/// resource, every text escaped.
pub(super) fn html(d: &Document) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <link rel=\"icon\" href=\"data:,\">\n\
         <title>{}</title>\n<style>{HTML_STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(&d.title),
        escape(&d.title)
    );
    for s in &d.sections {
        out.push_str(if s.page_break {
            "<section class=\"page-break\">\n"
        } else {
            "<section>\n"
        });
        let _ = writeln!(out, "<h2>{}</h2>", escape(&s.heading));
        for b in &s.blocks {
            match b {
                Block::Heading { text } => {
                    let _ = writeln!(out, "<h3>{}</h3>", escape(text));
                }
                Block::Paragraph { text } => {
                    let _ = writeln!(out, "<p>{}</p>", escape(text));
                }
                Block::List { items } => {
                    out.push_str("<ul>\n");
                    for i in items {
                        let _ = writeln!(out, "<li>{}</li>", escape(i));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Fields { rows } => {
                    out.push_str("<table class=\"fields\">\n");
                    for f in rows {
                        let _ = writeln!(
                            out,
                            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
                            escape(&f.label),
                            escape(&f.value)
                        );
                    }
                    out.push_str("</table>\n");
                }
                Block::Table { columns, rows } => {
                    out.push_str("<table>\n<thead><tr>");
                    for c in columns {
                        let _ = write!(out, "<th scope=\"col\">{}</th>", escape(c));
                    }
                    out.push_str("</tr></thead>\n<tbody>\n");
                    for r in rows {
                        out.push_str("<tr>");
                        for c in r {
                            let _ = write!(out, "<td>{}</td>", escape(c));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</tbody>\n</table>\n");
                }
                Block::ToComplete { text } => {
                    let _ = writeln!(
                        out,
                        "<p class=\"to-complete\"><strong>{}</strong> {}</p>",
                        escape(TO_COMPLETE),
                        escape(text)
                    );
                }
            }
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

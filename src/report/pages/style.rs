//! The dashboard's own policy and stylesheet. The page runs no script and has no `style`
//! attribute: every size and colour is here, by class.
//!
//! Readable at 1280 px: tables lay out by fixed column widths (`table-layout: fixed`), so no
//! column is pushed off the page and a long cell wraps inside its column; ordinary words
//! never break inside (`overflow-wrap: normal`), URLs wrap after their separators (the page
//! puts a `<wbr>` after each) and anywhere only inside URL cells, as a last resort.

/// The dashboard's own policy: nothing but its stylesheet, from its own origin.
pub(crate) const DASHBOARD_CSP: &str = "default-src 'none'; style-src 'self'; img-src 'none'; \
     base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// The stylesheet served beside the dashboard (`dashboard.css`).
pub(crate) const DASHBOARD_CSS: &str = "*{box-sizing:border-box}
body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem 2rem;color:#1b1b1b;background:#fafafa;overflow-wrap:normal;word-break:normal;hyphens:manual}
h1{font-size:1.4rem;margin:0 0 .3rem}h2{font-size:1.1rem;margin:.2rem 0 .5rem}h3{font-size:.95rem;margin:.8rem 0 .3rem}
p{margin:.3rem 0}p.meta,span.meta,li.meta{color:#555}p.lead{color:#444;margin:0 0 1rem;max-width:72rem}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin-bottom:1rem}
.card{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.5rem .9rem;min-width:8.5rem}
.card b{display:block;font-size:1.3rem;font-variant-numeric:tabular-nums}
.overall{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.6rem 1rem;margin-bottom:1rem;display:inline-block}
nav.views{margin:1.2rem 0 .6rem;border-bottom:2px solid #c9d3e0}
nav.views a{display:inline-block;padding:.4rem 1rem;margin-right:.3rem;border:1px solid #c9d3e0;border-bottom:none;border-radius:6px 6px 0 0;background:#eef2f8;color:#1b1b1b;text-decoration:none}
nav.views a.on{background:#fff;font-weight:600;border-color:#9fb3cc}
.filters{margin:.2rem 0 .6rem}p.filter{margin:.15rem 0}p.filter .key{display:inline-block;min-width:6rem;color:#555}
p.filter a{margin-right:.55rem;white-space:nowrap}p.filter a.on{font-weight:700;text-decoration:none;color:#1b1b1b}
p.reach{color:#444;margin:.2rem 0 .6rem}
table{border-collapse:collapse;width:100%;background:#fff;table-layout:fixed;border:1px solid #e0e0e0}
th,td{border-bottom:1px solid #e8e8e8;padding:.4rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}th.num,td.num{text-align:right;font-variant-numeric:tabular-nums}
td.url{overflow-wrap:anywhere}td.url code{overflow-wrap:anywhere}
.sample{display:block;color:#666;font-size:12px;margin-top:.1rem;overflow-wrap:anywhere}
.first{display:block;color:#777;font-size:12px}.below{display:block;color:#777;font-size:12px;margin-top:.2rem}
time{white-space:nowrap}td.reach{font-weight:600}
tr.low td{color:#777}.empty,.none{color:#666}
col.c-dest{width:auto}col.c-page{width:14%}col.c-directive{width:7rem}col.c-kind{width:8rem}
col.n-reach{width:4.2rem}col.n-count{width:4.6rem}col.n-pages{width:4rem}col.c-chart{width:10.4rem}col.c-time{width:9.2rem}
col.c-from{width:15rem}col.n-loads{width:6.4rem}col.n-sampled{width:5.4rem}col.n-nets{width:5.8rem}col.c-engines{width:9rem}
col.c-source{width:31%}col.c-status{width:8.4rem}col.c-through{width:auto}
.tags{display:block}td.chart{padding-left:.3rem;padding-right:.3rem}
.tag{display:inline-block;padding:0 .35rem;margin:0 .25rem .15rem 0;border-radius:3px;font-size:12px;white-space:nowrap;background:#eee;color:#333}
.tag.enforce{background:#fde8e8;color:#8a1010}.tag.report{background:#fff3d6;color:#6b4d00}.tag.unknown{background:#eee;color:#555}
.tag.genuine{background:#e3f3e4;color:#1b5e20}.tag.contradicts,.tag.foreign{background:#fde8e8;color:#a40000;font-weight:600}
.tag.stale{background:#eee;color:#555}.tag.unverified{background:#eef2f8;color:#33475b}
.tag.used{background:#e3f3e4;color:#1b5e20}.tag.unused{background:#fde8e8;color:#a40000;font-weight:600}
.tag.redundant{background:#fff3d6;color:#6b4d00}.tag.low{background:#eee;color:#666}
svg.chart{vertical-align:middle}svg.chart rect.bar{fill:#3b6ea8}svg.chart rect.base{fill:#9a9a9a}
td.chart{white-space:nowrap}td.chart .n{margin-left:.4rem;font-variant-numeric:tabular-nums}
.panels{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);gap:1.2rem;margin-top:1.4rem}
.panel{background:#fff;border:1px solid #ddd;border-radius:6px;padding:.7rem 1rem .8rem;min-width:0}
.panel.wide{grid-column:1/-1}.panel table{border:none}
.panel pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f4f4f4;padding:.5rem;margin:.2rem 0;font-size:13px}
.panel ul{padding-left:1.2rem;margin:.3rem 0}.panel li{margin:.15rem 0;overflow-wrap:anywhere}
code.base,code.enforced,code.command{overflow-wrap:anywhere}";

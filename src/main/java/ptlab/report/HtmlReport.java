package ptlab.report;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * The HTML report: one self-contained page (CSS inline, figures as PNG data URIs, no script,
 * nothing fetched) with a section per study result — its parameters, its rows as a table and
 * its figures — and a section for explore results and saved schedules. Under every table and
 * figure: the command line, seed and ptlab version that produced it, from the result's
 * {@code meta}, so each can be regenerated.
 */
public final class HtmlReport {

    /** The page, with the ids of the tables and figures it contains (tests check each is there). */
    public record Page(String html, List<String> tableIds, List<String> figureIds) {
    }

    private final PlotRegistry plots;
    private final StringBuilder html = new StringBuilder();
    private final List<String> tableIds = new ArrayList<>();
    private final List<String> figureIds = new ArrayList<>();

    private HtmlReport(PlotRegistry plots) {
        this.plots = plots;
    }

    public static Page render(ReportInputs in, PlotRegistry plots) throws IOException {
        return new HtmlReport(plots).page(in);
    }

    private Page page(ReportInputs in) throws IOException {
        html.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")
                .append("<title>ptlab report</title><style>").append(CSS).append("</style></head><body>\n");
        html.append("<h1>ptlab report</h1>\n<p class=\"meta\">ptlab ").append(esc(Provenance.ptlabVersion()))
                .append(": ").append(in.studies().size()).append(" study result(s), ")
                .append(in.exploreSummaries().size()).append(" explore summary(ies), ")
                .append(in.schedules().size()).append(" schedule(s).</p>\n<ul class=\"toc\">\n");
        for (int i = 0; i < in.studies().size(); i++) {
            html.append("<li><a href=\"#study-").append(i).append("\">").append(esc(in.studies().get(i).title()))
                    .append("</a></li>\n");
        }
        if (!in.exploreSummaries().isEmpty() || !in.schedules().isEmpty()) {
            html.append("<li><a href=\"#explore\">explore results</a></li>\n");
        }
        html.append("</ul>\n");
        for (int i = 0; i < in.studies().size(); i++) {
            study(i, in.studies().get(i));
        }
        explore(in);
        html.append("</body></html>\n");
        return new Page(html.toString(), List.copyOf(tableIds), List.copyOf(figureIds));
    }

    private void study(int i, StudyResult r) throws IOException {
        html.append("<section id=\"study-").append(i).append("\">\n<h2>").append(esc(r.title())).append("</h2>\n");
        html.append("<p class=\"params\">").append(esc(r.file().toString())).append(": ");
        Iterator<Map.Entry<String, JsonNode>> it = r.params().fields();
        List<String> ps = new ArrayList<>();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> p = it.next();
            if (!p.getValue().isObject()) {
                ps.add(p.getKey() + "=" + scalarOrList(p.getValue()));
            }
        }
        html.append(esc(String.join(", ", ps))).append("</p>\n");
        String tableId = "table-" + i;
        table(tableId, r.rows());
        provenance(r.meta());
        for (Figure f : plots.figures(r)) {
            String id = "figure-" + i + "-" + f.name().replaceAll("[^A-Za-z0-9]+", "-");
            figureIds.add(id);
            html.append("<figure><img id=\"").append(id).append("\" alt=\"").append(esc(f.title()))
                    .append("\" src=\"data:image/png;base64,").append(Base64.getEncoder().encodeToString(f.png()))
                    .append("\"><figcaption>").append(esc(f.title()));
            html.append("</figcaption>");
            provenance(r.meta());
            html.append("</figure>\n");
        }
        html.append("</section>\n");
    }

    /** Rows as a table: every scalar key that any row has, in first-seen order. */
    private void table(String id, List<JsonNode> rows) {
        Set<String> cols = new LinkedHashSet<>();
        for (JsonNode row : rows) {
            row.fieldNames().forEachRemaining(k -> {
                if (row.get(k).isValueNode()) {
                    cols.add(k);
                }
            });
        }
        tableIds.add(id);
        html.append("<table id=\"").append(id).append("\"><thead><tr>");
        for (String c : cols) {
            html.append("<th>").append(esc(c)).append("</th>");
        }
        html.append("</tr></thead><tbody>\n");
        for (JsonNode row : rows) {
            boolean bad = row.path("violations").asLong() > 0 || (row.has("violation") && !row.path("violation").isNull());
            html.append(bad ? "<tr class=\"violation\">" : "<tr>");
            for (String c : cols) {
                JsonNode v = row.get(c);
                boolean num = v != null && v.isNumber();
                html.append(num ? "<td class=\"num\">" : "<td>")
                        .append(v == null || v.isNull() ? "" : esc(v.asText())).append("</td>");
            }
            html.append("</tr>\n");
        }
        html.append("</tbody></table>\n");
    }

    private void provenance(Provenance p) {
        if (p == null) {
            html.append("<p class=\"prov\">written by a ptlab that did not record its command line</p>\n");
            return;
        }
        html.append("<p class=\"prov\">command: <code>").append(esc(p.command())).append("</code>, seed ")
                .append(p.seed()).append(", ptlab ").append(esc(p.version()));
        if (!"1/1".equals(p.shard())) {
            html.append(", shards ").append(esc(p.shard()));
        }
        if (p.producedBy() != null) {
            html.append(" (run by <code>").append(esc(p.producedBy())).append("</code>)");
        }
        html.append("</p>\n");
    }

    private void explore(ReportInputs in) {
        if (in.exploreSummaries().isEmpty() && in.schedules().isEmpty()) {
            return;
        }
        html.append("<section id=\"explore\">\n<h2>explore results</h2>\n");
        if (!in.exploreSummaries().isEmpty()) {
            html.append("<h3>searches</h3>\n");
            List<JsonNode> rows = new ArrayList<>();
            for (ReportInputs.Found f : in.exploreSummaries()) {
                rows.add(f.json());
            }
            table("table-explore", rows);
            for (ReportInputs.Found f : in.exploreSummaries()) {
                provenance(Provenance.fromJson(f.json().get("meta")));
            }
        }
        if (!in.schedules().isEmpty()) {
            html.append("<h3>schedules</h3>\n<p>Replay any of them with <code>ptlab replay FILE</code>, or step "
                    + "through it in <code>ptlab serve</code>.</p>\n");
            List<JsonNode> rows = new ArrayList<>();
            for (ReportInputs.Found f : in.schedules()) {
                com.fasterxml.jackson.databind.node.ObjectNode o = f.json().deepCopy();
                o.remove("choices");
                o.put("file", f.file().toString());
                rows.add(o);
            }
            table("table-schedules", rows);
            for (ReportInputs.Found f : in.schedules()) {
                provenance(Provenance.fromJson(f.json().get("meta")));
            }
        }
        html.append("</section>\n");
    }

    private static String scalarOrList(JsonNode v) {
        if (v.isArray()) {
            List<String> s = new ArrayList<>();
            v.forEach(e -> s.add(e.asText()));
            return String.join(",", s);
        }
        return v.isNull() ? "-" : v.asText();
    }

    static String esc(String s) {
        if (s == null) {
            return "";
        }
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }

    /** The file name the report is written under in {@code --out DIR}. */
    public static Path file(Path dir) {
        return dir.resolve("report.html");
    }

    private static final String CSS = """
            body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
            h1{margin-bottom:.2em} h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
            table{border-collapse:collapse;font-size:12px;margin:.5em 0;display:block;overflow-x:auto}
            th,td{border:1px solid #ddd;padding:2px 6px;white-space:nowrap} th{background:#f3f3f3}
            td.num{text-align:right;font-variant-numeric:tabular-nums} tr.violation td{background:#fde8e8}
            figure{margin:1em 0} img{max-width:100%;border:1px solid #eee}
            figcaption{font-weight:600} .prov,.params,.meta{font-size:12px;color:#555}
            code{background:#f6f6f6;padding:1px 3px}
            """;
}

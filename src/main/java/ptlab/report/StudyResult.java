package ptlab.report;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * One study's output as {@code --out DIR} writes it (DESIGN.md):
 * {@code {"experiment":…, "arch":…, "params":{…}, "rows":[…], "meta":{…}}}, with the file it
 * was read from. The report and the plots work on this shape only, so any study that writes it
 * shows up in the report without code of its own (its plots through {@link PlotRegistry}).
 */
public record StudyResult(Path file, JsonNode json) {

    /** True for a JSON document of this shape. */
    public static boolean accepts(JsonNode n) {
        return n != null && n.isObject() && n.path("experiment").isTextual() && n.path("rows").isArray();
    }

    public String experiment() {
        return json.path("experiment").asText();
    }

    public String arch() {
        return json.path("arch").asText("");
    }

    public JsonNode params() {
        return json.path("params");
    }

    public List<JsonNode> rows() {
        List<JsonNode> out = new ArrayList<>();
        json.path("rows").forEach(out::add);
        return out;
    }

    /** The provenance recorded by the writer, or null for output of a ptlab without it. */
    public Provenance meta() {
        return Provenance.fromJson(json.get("meta"));
    }

    /** "vmalloc-sync x86-64": the section's name. */
    public String title() {
        return arch().isEmpty() ? experiment() : experiment() + " " + arch();
    }
}

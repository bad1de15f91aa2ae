package ptlab.report;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Where a result came from: the exact command line that regenerates it, its seed, the ptlab
 * version, and the shard when a sweep was split. Every {@code --out} writer stores this as the
 * {@code "meta"} object of its JSON, and the HTML report prints it under every table and figure.
 *
 * <pre>
 * "meta": {"command": "ptlab experiment vmalloc-sync --arch x86-64 --procs 100", "seed": 1,
 *          "ptlab_version": "0.1.0", "shard": "1/1", "produced_by": "ptlab demo"}
 * </pre>
 */
public record Provenance(String command, long seed, String version, String shard, String producedBy) {

    /** A command run on its own (not split, not run by the demo). */
    public static Provenance of(String command, long seed) {
        return new Provenance(command, seed, ptlabVersion(), "1/1", null);
    }

    public Provenance withShard(String k) {
        return new Provenance(command, seed, version, k, producedBy);
    }

    public Provenance producedBy(String who) {
        return new Provenance(command, seed, version, shard, who);
    }

    /** "ptlab ARGS…", each argument quoted for a POSIX shell when it needs it. */
    public static String commandLine(List<String> args) {
        StringBuilder sb = new StringBuilder("ptlab");
        for (String a : args) {
            sb.append(' ').append(a.matches("[A-Za-z0-9_./=,:@%+-]+") ? a : "'" + a.replace("'", "'\\''") + "'");
        }
        return sb.toString();
    }

    /** The Maven project version, filtered into {@code /ptlab/version.txt} at build time. */
    public static String ptlabVersion() {
        try (InputStream in = Provenance.class.getResourceAsStream("/ptlab/version.txt")) {
            return in == null ? "unknown" : new String(in.readAllBytes(), StandardCharsets.UTF_8).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    public ObjectNode toJson(ObjectMapper mapper) {
        ObjectNode o = mapper.createObjectNode();
        o.put("command", command);
        o.put("seed", seed);
        o.put("ptlab_version", version);
        o.put("shard", shard);
        if (producedBy != null) {
            o.put("produced_by", producedBy);
        }
        return o;
    }

    /** The meta object of a result, or null when it has none (output of an older ptlab). */
    public static Provenance fromJson(JsonNode meta) {
        if (meta == null || !meta.isObject()) {
            return null;
        }
        return new Provenance(meta.path("command").asText(null), meta.path("seed").asLong(),
                meta.path("ptlab_version").asText("unknown"), meta.path("shard").asText("1/1"),
                meta.path("produced_by").asText(null));
    }
}

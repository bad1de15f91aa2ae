package ptlab.report;

import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * Merges the results of the N shards of one study sweep into the result one unsharded run
 * gives. A shard's JSON is the DESIGN.md shape; its {@code meta} names the shard ("K/N"), the
 * sweep's number of runs ({@code total_runs}) and the run number of each of its rows
 * ({@code runs}), so the merge puts the rows back in the order one process would have
 * produced them. It refuses, naming the problem: shards of different studies or parameters,
 * a shard given twice or missing, runs missing or duplicated.
 */
public final class ShardMerge {

    private ShardMerge() {
    }

    public static ObjectNode merge(List<StudyResult> shards, ObjectMapper mapper) {
        if (shards.isEmpty()) {
            throw new IllegalArgumentException("no shard results to merge");
        }
        StudyResult first = shards.get(0);
        int n = -1;
        long total = -1;
        boolean[] seen = null;
        JsonNode firstMeta = null;      // shard 1/N's: its command line, without --shard, is the unsharded run
        TreeMap<Long, JsonNode> rows = new TreeMap<>();
        for (StudyResult s : shards) {
            String where = s.file().toString();
            if (!s.experiment().equals(first.experiment()) || !s.arch().equals(first.arch())) {
                throw new IllegalArgumentException(where + " is " + s.title() + ", not " + first.title());
            }
            if (!s.params().equals(first.params())) {
                throw new IllegalArgumentException(where + " was run with other parameters than " + first.file());
            }
            JsonNode meta = s.json().path("meta");
            String label = meta.path("shard").asText("");
            String[] kn = label.split("/");
            if (kn.length != 2 || !meta.path("runs").isArray() || !meta.path("total_runs").canConvertToLong()) {
                throw new IllegalArgumentException(where + " has no shard record (meta.shard, meta.runs, meta.total_runs)");
            }
            int k = Integer.parseInt(kn[0]);
            int count = Integer.parseInt(kn[1]);
            if (n < 0) {
                n = count;
                total = meta.path("total_runs").asLong();
                seen = new boolean[n];
            } else if (count != n) {
                throw new IllegalArgumentException(where + " is shard " + label + " of a split into " + count
                        + ", the others of " + n);
            }
            if (seen[k - 1]) {
                throw new IllegalArgumentException(where + ": shard " + label + " given twice");
            }
            seen[k - 1] = true;
            if (k == 1) {
                firstMeta = meta;
            }
            JsonNode runs = meta.path("runs");
            if (runs.size() != s.json().path("rows").size()) {
                throw new IllegalArgumentException(where + ": " + runs.size() + " run numbers for "
                        + s.json().path("rows").size() + " rows");
            }
            for (int i = 0; i < runs.size(); i++) {
                long run = runs.get(i).asLong();
                if (rows.put(run, s.json().path("rows").get(i)) != null) {
                    throw new IllegalArgumentException(where + ": run " + run + " is in two shards");
                }
            }
        }
        List<String> missing = new ArrayList<>();
        for (int k = 0; k < n; k++) {
            if (!seen[k]) {
                missing.add((k + 1) + "/" + n);
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("shard(s) " + String.join(", ", missing) + " missing");
        }
        if (rows.size() != total || (!rows.isEmpty() && (rows.firstKey() != 0 || rows.lastKey() != total - 1))) {
            throw new IllegalArgumentException("the shards hold " + rows.size() + " of the sweep's " + total + " runs");
        }
        ObjectNode out = mapper.createObjectNode();
        out.put("experiment", first.experiment());
        out.put("arch", first.arch());
        out.set("params", first.params().deepCopy());
        ArrayNode rs = out.putArray("rows");
        rows.values().forEach(rs::add);
        ObjectNode meta = firstMeta.deepCopy();
        meta.put("command", withoutShard(meta.path("command").asText("")));
        meta.put("shard", "1/1");
        meta.put("merged_shards", n);
        ArrayNode runs = meta.putArray("runs");
        rows.keySet().forEach(runs::add);
        out.set("meta", meta);
        return out;
    }

    /** The shard's command line without its {@code --shard X}: the unsharded command. */
    static String withoutShard(String command) {
        return command.replaceAll(" --shard[ =]\\S+", "");
    }
}

package ptlab.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import ptlab.hw.PagingMode;
import ptlab.report.ShardMerge;
import ptlab.report.StudyResult;
import ptlab.report.VmallocSyncReport;
import ptlab.report.VmallocSyncReport.Entry;

/**
 * {@code ptlab experiment vmalloc-sync --merge DIR…}: the shards of one sweep back into the
 * table, JSON, CSV and plots of the unsharded run (rows in the unsharded order; see
 * {@link ShardMerge}). Takes each shard's {@code --out} directory or its JSON file.
 */
final class VmallocSyncMerge {

    private VmallocSyncMerge() {
    }

    static int run(VmallocSyncCommand c) throws IOException {
        if (c.shard != null || c.arch != null || c.sweep != null) {
            throw new UsageException("--merge takes the shards' results; --arch, --sweep and --shard belong to the "
                    + "shard runs");
        }
        List<StudyResult> shards = new ArrayList<>();
        for (Path p : c.merge) {
            Path f = Files.isDirectory(p) ? p.resolve("vmalloc-sync.json") : p;
            JsonNode n;
            try {
                n = Json.mapper().readTree(Files.readString(f));
            } catch (NoSuchFileException e) {
                throw new UsageException("no such file: " + f);
            } catch (com.fasterxml.jackson.core.JsonProcessingException | MalformedInputException e) {
                throw new UsageException(f + " is not the JSON of ptlab experiment vmalloc-sync");
            }
            if (!StudyResult.accepts(n) || !"vmalloc-sync".equals(n.path("experiment").asText())) {
                throw new UsageException(f + " is not the JSON of ptlab experiment vmalloc-sync");
            }
            shards.add(new StudyResult(f, n));
        }
        ObjectNode merged = UsageException.userInput(() -> ShardMerge.merge(shards, Json.mapper()));   // inconsistent: exit 2
        List<Entry> entries = new ArrayList<>();
        merged.path("rows").forEach(r -> entries.add(VmallocSyncReport.fromJson(r)));
        PagingMode mode = PagingMode.fromCliName(merged.path("arch").asText());
        PrintWriter pw = c.spec.commandLine().getOut();
        if (c.format == OutputFormat.json) {
            pw.println(Json.writePretty(merged));
        } else {
            JsonNode p = merged.path("params");
            pw.printf("vmalloc-sync on %s: merged %d shards, %d runs; %d vmalloc ops, %d CPUs, seed %d; latencies in "
                    + "model cycles, sync level %s%n", mode.cliName(), merged.path("meta").path("merged_shards").asInt(),
                    entries.size(), p.path("vmallocs").asInt(), p.path("cpus").asInt(), p.path("seed").asLong(),
                    VmallocSyncReport.syncLevelName(mode));
            pw.print(VmallocSyncReport.table(entries, VmallocSyncReport.syncLevelName(mode)));
        }
        if (c.out != null) {
            c.writeOut(c.out, merged, entries, pw);
        }
        pw.flush();
        return VmallocSyncCommand.exitCode(entries, c.spec.commandLine().getErr());
    }
}

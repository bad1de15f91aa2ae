package ptlab.report;

import java.io.IOException;
import java.nio.charset.MalformedInputException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

/**
 * What {@code ptlab report} and {@code ptlab serve} find in the directories they are given:
 * study results ({@link StudyResult}), explore summaries ({@code explore --format json}) and
 * saved schedules ({@code "format": "ptlab-schedule/1"}). Files are recognised by their JSON
 * shape, not by their names, so any study writing the DESIGN.md shape is picked up. Other
 * files are left alone; a JSON file of no known shape is listed in {@link #skipped()}.
 */
public record ReportInputs(List<StudyResult> studies, List<Found> exploreSummaries, List<Found> schedules,
                           List<String> skipped) {

    /** A JSON document of a known kind, with the file it came from. */
    public record Found(Path file, JsonNode json) {
    }

    /** How deep below each given directory files are looked for. */
    public static final int MAX_DEPTH = 3;

    private static final ObjectMapper MAPPER = new ObjectMapper();

    /** Reads every {@code *.json} under the given directories (or the given files), in path order. */
    public static ReportInputs scan(List<Path> roots) throws IOException {
        List<StudyResult> studies = new ArrayList<>();
        List<Found> summaries = new ArrayList<>();
        List<Found> schedules = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        for (Path root : roots) {
            if (!Files.exists(root)) {
                throw new IllegalArgumentException("no such file or directory: " + root);
            }
            List<Path> files;
            try (Stream<Path> s = Files.walk(root, MAX_DEPTH)) {
                files = s.filter(Files::isRegularFile).filter(p -> p.getFileName().toString().endsWith(".json"))
                        .sorted().toList();
            }
            for (Path f : files) {
                JsonNode n = read(f);
                if (n == null) {
                    skipped.add(f + ": not JSON");
                } else if (StudyResult.accepts(n)) {
                    studies.add(new StudyResult(f, n));
                } else if ("ptlab-schedule/1".equals(n.path("format").asText())) {
                    schedules.add(new Found(f, n));
                } else if (n.isObject() && n.path("scenario").isTextual() && n.has("schedules")) {
                    summaries.add(new Found(f, n));
                } else {
                    skipped.add(f + ": not a ptlab result");
                }
            }
        }
        return new ReportInputs(studies, summaries, schedules, skipped);
    }

    public boolean isEmpty() {
        return studies.isEmpty() && exploreSummaries.isEmpty() && schedules.isEmpty();
    }

    private static JsonNode read(Path f) throws IOException {
        try {
            return MAPPER.readTree(Files.readString(f));
        } catch (com.fasterxml.jackson.core.JsonProcessingException | MalformedInputException e) {
            return null;
        }
    }
}

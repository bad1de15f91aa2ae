package ptlab.engine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

/**
 * A saved schedule: enough to re-run one interleaving exactly.
 * <pre>
 * {"format": "ptlab-schedule/1", "scenario": "pte-clear-vs-dirty", "variant": "plain-store",
 *  "arch": "x86-64", "strategy": "random", "seed": 42, "schedule_seed": 7126…, "index": 3,
 *  "choices": [0, 0, 1, 1, 0], "steps": 31, "preemptions": 2,
 *  "violation": "invariant 1 (no lost dirty bit) violated at step 17: …"}
 * </pre>
 * {@code choices} lists the choice taken at each point: a CPU number, or (CPU count + k) for the
 * k-th injectable event of the scenario. After the list, the run continues by the default rule
 * ({@link Strategies#defaultChoice}: the same CPU while it can run), so a shrunk schedule lists
 * only the steps up to its last needed preemption. {@code arch} is the paging mode the machine
 * was built in ({@code explore --arch}); a file without it (written before {@code --arch}
 * existed) replays in the variant's first mode, which is what it ran in.
 */
public record Schedule(String scenario, String variant, String arch, String strategy, long seed, long scheduleSeed, long index,
                       int[] choices, long steps, int preemptions, String violation) {

    public static final String FORMAT = "ptlab-schedule/1";
    private static final ObjectMapper MAPPER = new ObjectMapper();

    public ObjectNode toJson() {
        ObjectNode o = MAPPER.createObjectNode();
        o.put("format", FORMAT);
        o.put("scenario", scenario);
        o.put("variant", variant);
        if (arch != null) {
            o.put("arch", arch);
        }
        o.put("strategy", strategy);
        o.put("seed", seed);
        o.put("schedule_seed", scheduleSeed);
        o.put("index", index);
        ArrayNode a = o.putArray("choices");
        for (int c : choices) {
            a.add(c);
        }
        o.put("steps", steps);
        o.put("preemptions", preemptions);
        if (violation == null) {
            o.putNull("violation");
        } else {
            o.put("violation", violation);
        }
        return o;
    }

    public void save(Path file) throws IOException {
        save(file, null);
    }

    /** Saves the schedule with a {@code "meta"} object (provenance: command line, seed, version), when given. */
    public void save(Path file, ObjectNode meta) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        // choices on one line: a schedule stays readable and diffable
        ObjectNode o = toJson();
        if (meta != null) {
            o.set("meta", meta);
        }
        String json = MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(o)
                .replaceAll("\\[\\s*([0-9,\\s]*?)\\s*]", "[$1]").replaceAll(",\\s+(?=[0-9])", ", ");
        Files.writeString(file, json + "\n");
    }

    /** Reads a schedule file; a malformed one gives an IllegalArgumentException naming what is wrong. */
    public static Schedule load(Path file) throws IOException {
        JsonNode n;
        try {
            n = MAPPER.readTree(Files.readString(file));
        } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
            throw new IllegalArgumentException(file + " is not JSON: " + e.getOriginalMessage());
        }
        if (n == null || !n.isObject()) {
            throw new IllegalArgumentException(file + ": a schedule is a JSON object");
        }
        if (!FORMAT.equals(n.path("format").asText())) {
            throw new IllegalArgumentException(file + ": \"format\" must be \"" + FORMAT + "\"");
        }
        String scenario = n.path("scenario").asText(null);
        if (scenario == null) {
            throw new IllegalArgumentException(file + ": \"scenario\" is missing");
        }
        JsonNode cs = n.path("choices");
        if (!cs.isArray()) {
            throw new IllegalArgumentException(file + ": \"choices\" must be an array of integers");
        }
        int[] choices = new int[cs.size()];
        for (int i = 0; i < choices.length; i++) {
            if (!cs.get(i).canConvertToInt() || cs.get(i).asInt() < 0 || cs.get(i).asInt() >= 64) {
                throw new IllegalArgumentException(file + ": choices[" + i + "] must be an integer 0..63");
            }
            choices[i] = cs.get(i).asInt();
        }
        JsonNode arch = n.path("arch");
        if (!arch.isMissingNode() && !arch.isNull() && !arch.isTextual()) {
            throw new IllegalArgumentException(file + ": \"arch\" must be a string such as \"x86-64\"");
        }
        return new Schedule(scenario, n.path("variant").asText(null), arch.isTextual() ? arch.asText() : null,
                n.path("strategy").asText("replay"),
                n.path("seed").asLong(), n.path("schedule_seed").asLong(), n.path("index").asLong(), choices,
                n.path("steps").asLong(), n.path("preemptions").asInt(),
                n.path("violation").isNull() ? null : n.path("violation").asText(null));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Schedule s && s.scenario.equals(scenario) && Arrays.equals(s.choices, choices)
                && java.util.Objects.equals(s.variant, variant) && java.util.Objects.equals(s.arch, arch);
    }

    @Override
    public int hashCode() {
        return scenario.hashCode() * 31 + Arrays.hashCode(choices);
    }
}

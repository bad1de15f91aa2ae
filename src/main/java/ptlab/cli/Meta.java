package ptlab.cli;

import java.util.List;

import com.fasterxml.jackson.databind.node.ObjectNode;

import picocli.CommandLine.Model.CommandSpec;
import ptlab.report.Provenance;

/**
 * The {@code "meta"} object every {@code --out} writer adds to its JSON: this run's exact
 * command line, its seed and the ptlab version (see {@link Provenance}), so the report can say
 * how each table and figure is regenerated.
 */
final class Meta {

    private Meta() {
    }

    static ObjectNode of(CommandSpec spec, long seed) {
        return provenance(spec, seed).toJson(Json.mapper());
    }

    static Provenance provenance(CommandSpec spec, long seed) {
        var pr = spec.root().commandLine().getParseResult();
        return Provenance.of(Provenance.commandLine(pr == null ? List.of() : pr.originalArgs()), seed);
    }
}

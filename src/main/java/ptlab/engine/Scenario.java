package ptlab.engine;

import java.util.List;

/**
 * A named concurrency scenario: builds a fresh {@link Machine} whose CPUs run kernel code paths
 * and user accesses, with the invariant checks it needs. Building must be deterministic: the
 * same variant gives the same machine, so a schedule replays exactly.
 */
public interface Scenario {

    /** One way to run the scenario: a protocol variant, broken or correct. */
    record Variant(String name, boolean broken, String description) {
    }

    String name();

    String description();

    /** The variants; the first is the default. */
    List<Variant> variants();

    Machine build(String variant);

    default Variant variant(String name) {
        if (name == null) {
            return variants().get(0);
        }
        for (Variant v : variants()) {
            if (v.name().equals(name)) {
                return v;
            }
        }
        StringBuilder sb = new StringBuilder();
        for (Variant v : variants()) {
            sb.append(sb.length() == 0 ? "" : ", ").append(v.name());
        }
        throw new IllegalArgumentException("scenario " + name() + " has no variant '" + name + "' (variants: " + sb + ")");
    }
}

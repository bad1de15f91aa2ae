package ptlab.engine;

import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Collectors;

import ptlab.hw.PagingMode;

/**
 * A named concurrency scenario: builds a fresh {@link Machine} whose CPUs run kernel code paths
 * and user accesses, with the invariant checks it needs. Building must be deterministic: the
 * same variant in the same paging mode gives the same machine, so a schedule replays exactly.
 *
 * <p>Paging modes: {@link #modes(String)} lists the modes a variant can be built in (the first
 * is the one {@link #build(String)} uses); {@code explore --arch} and {@code replay} build with
 * {@link #build(String, PagingMode)}, which refuses any other mode with a message naming the
 * modes that work. Kernel-level scenarios boot the kernel layer in the mode asked; scenarios on
 * tables written by hand in one format, or about one mode's hardware (PAE's two-half pte), name
 * that one mode.
 */
public interface Scenario {

    /** One way to run the scenario: a protocol variant, broken or correct. */
    record Variant(String name, boolean broken, String description) {
    }

    String name();

    String description();

    /** The variants; the first is the default. */
    List<Variant> variants();

    /** {@code variant} in its first mode ({@link #modes(String)}). */
    Machine build(String variant);

    /**
     * Machines of {@code variant} for one search on one thread: each call of the supplier returns
     * what {@link #build(String)} returns, a fresh machine. What every one of them starts with (a
     * booted kernel's {@code KernelImage}) may be kept in the supplier between calls — never in
     * the scenario, which serves every search and thread at once. The explorer takes one
     * supplier per search (per worker thread).
     */
    default Supplier<Machine> machines(String variant) {
        return machines(variant, mode(variant));
    }

    /** {@link #machines(String)} in {@code mode}: each call returns what {@link #build(String, PagingMode)} does. */
    default Supplier<Machine> machines(String variant, PagingMode mode) {
        return () -> build(variant, mode);
    }

    /** The paging modes {@code variant} can be built in; the first is {@link #build(String)}'s. */
    default List<PagingMode> modes(String variant) {
        return List.of(PagingMode.X86_64);
    }

    /**
     * {@code variant} in paging mode {@code mode}. A scenario with more than one mode overrides
     * this; the default builds the one mode it has.
     */
    default Machine build(String variant, PagingMode mode) {
        requireMode(variant, mode);
        return build(variant);
    }

    /** The mode a machine of {@code variant} is built in by {@link #build(String)}. */
    default PagingMode mode(String variant) {
        return modes(variant).get(0);
    }

    /** Throws IllegalArgumentException (a user error) naming the modes {@code variant} runs in. */
    default void requireMode(String variant, PagingMode mode) {
        List<PagingMode> ms = modes(variant);
        if (!ms.contains(mode)) {
            String v = variant(variant).name();
            throw new IllegalArgumentException("scenario " + name() + " (variant " + v + ") cannot run on --arch "
                    + mode.cliName() + ": it runs on " + ms.stream().map(PagingMode::cliName)
                    .collect(Collectors.joining(", ")) + (ms.size() == 1 ? " only" : ""));
        }
    }

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

    /**
     * {@code s} with every machine built in {@code mode}: what {@code explore --arch} searches and
     * what {@code replay} re-runs, so schedules, shrinking and replays all see the same mode.
     * Refuses (IllegalArgumentException) when the variant cannot run in it.
     */
    static Scenario inMode(Scenario s, String variant, PagingMode mode) {
        s.requireMode(variant, mode);
        return new InMode(s, mode);
    }

    /** {@link #inMode}: a scenario pinned to one paging mode. */
    record InMode(Scenario base, PagingMode pinned) implements Scenario {
        @Override
        public String name() {
            return base.name();
        }

        @Override
        public String description() {
            return base.description();
        }

        @Override
        public List<Variant> variants() {
            return base.variants();
        }

        @Override
        public Machine build(String variant) {
            return base.build(variant, pinned);
        }

        @Override
        public Supplier<Machine> machines(String variant) {
            return base.machines(variant, pinned);
        }

        @Override
        public List<PagingMode> modes(String variant) {
            return List.of(pinned);
        }
    }
}

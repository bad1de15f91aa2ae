package ptlab.kernel.vmalloc;

/**
 * {@code broken-no-sync}: deliberately wrong. vmalloc populates init_mm and nothing else: no
 * sync, no fault handling. Processes forked later see the entries (pgd_ctor copies them),
 * older ones do not: the "PGD 0" oops of the 2025 x86-64 bug. The checker must catch it.
 */
public final class BrokenNoSync implements VmallocSyncStrategy {

    @Override
    public String name() {
        return "broken-no-sync";
    }

    @Override
    public String description() {
        return "deliberately broken: init_mm only, no sync and no vmalloc_fault()";
    }

    @Override
    public boolean broken() {
        return true;
    }
}

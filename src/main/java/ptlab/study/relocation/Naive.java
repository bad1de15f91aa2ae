package ptlab.study.relocation;

import ptlab.study.relocation.PageTableMigrator.TablePage;

/**
 * {@code naive}: copy, switch the parent entry, flush, free — the order of the 2008 patch
 * (with the flush done by mmu_gather, as mail 002 suggests, instead of MMF_NEED_FLUSH).
 *
 * <p>Broken: between the copy and the flush, a CPU whose paging-structure cache still points
 * at the old table (or that fetched the old parent entry) walks the old copy, and its walker
 * sets A or D there with a locked compare-and-swap. The copy was already taken, the old page
 * is freed after the flush, and the bit is gone: the kernel later sees a clean page that was
 * written ("losing dirty can cause data loss", mail 002). The explorer finds it (scenario
 * {@code relocation-dirty}).
 */
public final class Naive implements RelocationProtocol {

    @Override
    public String name() {
        return "naive";
    }

    @Override
    public boolean broken() {
        return true;
    }

    @Override
    public String description() {
        return "copy, switch the parent entry, flush, free (A/D set in the old copy after the copy are lost)";
    }

    @Override
    public MoveResult move(PageTableMigrator m, int level, long va, int node) {
        String no = m.refusal(level, va);
        if (no != null) {
            return MoveResult.refused(level, no);
        }
        m.mm().mmap_lock.down_write();
        try {
            TablePage t = m.find(level, va);
            if (t == null) {
                return MoveResult.nothing(level);
            }
            long copy = m.allocate(t, node);
            if (copy < 0) {
                return MoveResult.refused(level, "out of memory on node " + node);
            }
            m.copy(t, copy);
            m.switchTo(t, copy);
            m.freeViaGather(t, va);        // tlb_finish_mmu: flush every CPU, then free
            return MoveResult.moved(level, t.table(), copy, 0);
        } finally {
            m.mm().mmap_lock.up_write();
        }
    }
}

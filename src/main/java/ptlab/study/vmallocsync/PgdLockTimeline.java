package ptlab.study.vmallocsync;

import java.util.Map;
import java.util.TreeMap;

/**
 * pgd_lock in model time for the timed vmalloc-sync run: the intervals during which some CPU
 * holds it. An operation's holds are measured while it runs (the cost meter's cycles between
 * spin_lock and spin_unlock of pgd_lock) and then placed on this timeline from the CPU's clock:
 * a hold that would start inside another CPU's hold starts when that one ends (the waiting CPU
 * gets the lock at the next release, as a queued spinlock hands it over in FIFO order).
 *
 * <p>So a fork that arrives while x86-32's arch_sync_kernel_mappings() walks pmd after pmd
 * waits for one pmd's walk of pgd_list, not for all of them: Linux drops pgd_lock between pmds
 * (and sync_global_pgds between PGDIR steps). What this does not model: the walker's later holds
 * are not pushed back by the fork that got in (the walker's own latency misses that delay).
 */
final class PgdLockTimeline {

    /** Busy intervals, start -> end (exclusive), disjoint. */
    private final TreeMap<Long, Long> busy = new TreeMap<>();

    /**
     * Takes the lock at model time {@code t} or at the end of the hold in progress then, for
     * {@code hold} cycles; returns the time it was taken.
     */
    long acquire(long t, long hold) {
        Map.Entry<Long, Long> in = busy.floorEntry(t);
        long s = in != null && in.getValue() > t ? in.getValue() : t;
        long end = s + Math.max(hold, 1);
        // Keep the intervals disjoint: holds placed earlier that start inside this one merge with
        // it. One that merely starts where this one's predecessor ended is another CPU's hold
        // queued behind the same release: this CPU waited for one hold, not for a chain.
        for (Map.Entry<Long, Long> e; (e = busy.ceilingEntry(s)) != null && e.getKey() < end; ) {
            end = Math.max(end, e.getValue());
            busy.remove(e.getKey());
        }
        busy.put(s, end);
        return s;
    }

    /** Forgets the holds that ended before {@code t}: no CPU's clock is earlier. */
    void forgetBefore(long t) {
        while (!busy.isEmpty()) {
            Map.Entry<Long, Long> e = busy.firstEntry();
            if (e.getValue() > t) {
                return;
            }
            busy.pollFirstEntry();
        }
    }
}

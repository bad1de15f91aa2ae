package ptlab.kernel;

import java.util.Arrays;

/**
 * The ordered set of an mm's VMAs (the maple tree's role): non-overlapping, sorted by
 * vm_start. Its contents are one immutable {@link Node} (the ranges and the VMAs in parallel
 * arrays) published through a {@link SharedRef}, copy-on-write: a writer (mmap_lock held for
 * write) builds a new node and publishes it with one store, as the maple tree publishes a
 * replaced node with rcu_assign_pointer. So a lockless reader ({@link #find_vma_rcu}, the
 * speculative fault of mail 004) loads the root once — a scheduling point — and searches a
 * snapshot that no writer changes under it; the VMA it finds may still be changed or removed
 * after that, which is exactly the race such a reader must re-check (vm_sequence).
 *
 * <p>The node keeps each VMA's range as it was when the node was published (the maple tree's
 * pivots): {@link VmArea}'s bound setters republish the tree when they change a VMA that is in
 * it. {@link #find_vma} is a binary search, O(log n) and allocation-free (the fault path calls
 * it); insertion and removal copy the arrays, O(n), which mmap/munmap can afford.
 */
public final class VmaTree {

    /** One published version of the tree. Never changed after publication. */
    record Node(long[] starts, long[] ends, VmArea[] vmas, int n) {
    }

    private static final Node EMPTY = new Node(new long[0], new long[0], new VmArea[0], 0);

    /** mm->mm_mt's root: read plainly under mmap_lock, as a shared variable without it. */
    private final SharedRef<Node> root;

    VmaTree(Interleaving il, String mmName) {
        root = new SharedRef<>(il, mmName, "->mm_mt", EMPTY);
    }

    /** A tree no scheduler sees (tests). */
    public VmaTree() {
        this(Interleaving.NONE, "mm");
    }

    /** The current node; callers hold mmap_lock (read or write), so no writer runs concurrently. */
    private Node locked() {
        return root.plainGet();
    }

    public int size() {
        return locked().n;
    }

    public VmArea get(int i) {
        Node t = locked();
        if (i < 0 || i >= t.n) {
            throw new IndexOutOfBoundsException("vma index " + i + " of " + t.n);
        }
        return t.vmas[i];
    }

    /** Index of the first vma with vm_end > addr, or size() if none (unsigned compares). */
    public int indexOf(long addr) {
        return indexOf(locked(), addr);
    }

    private static int indexOf(Node t, long addr) {
        int lo = 0;
        int hi = t.n - 1;
        int found = t.n;
        long[] ends = t.ends;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(ends[mid], addr) > 0) {
                found = mid;
                hi = mid - 1;
            } else {
                lo = mid + 1;
            }
        }
        return found;
    }

    /** find_vma(mm, addr) under mmap_lock: the first vma with vm_end > addr (it may start above addr), or null. */
    public VmArea find_vma(long addr) {
        Node t = locked();
        int i = indexOf(t, addr);
        return i < t.n ? t.vmas[i] : null;
    }

    /**
     * find_vma() without mmap_lock (lock_vma_under_rcu, a speculative fault): one load of the
     * published root — a scheduling point — then a search of that snapshot. The VMA returned
     * may have changed since the snapshot; the caller re-checks it.
     */
    public VmArea find_vma_rcu(long addr) {
        Node t = root.get();
        int i = indexOf(t, addr);
        return i < t.n ? t.vmas[i] : null;
    }

    /** vma_lookup(mm, addr): the vma containing addr, or null. */
    public VmArea vma_lookup(long addr) {
        VmArea v = find_vma(addr);
        return v != null && Long.compareUnsigned(v.vm_start(), addr) <= 0 ? v : null;
    }

    /** find_vma_intersection(mm, start, end): the first vma overlapping [start, end). */
    public VmArea find_vma_intersection(long start, long end) {
        VmArea v = find_vma(start);
        return v != null && Long.compareUnsigned(v.vm_start(), end) < 0 ? v : null;
    }

    /** The vma before index {@code i}, or null. */
    public VmArea prev(int i) {
        return i > 0 ? locked().vmas[i - 1] : null;
    }

    /** vma_link(): inserts (a new node published); throws if it overlaps an existing vma. */
    public void insert(VmArea v) {
        Node t = locked();
        int i = indexOf(t, v.vm_start());
        if (i < t.n && Long.compareUnsigned(t.vmas[i].vm_start(), v.vm_end()) < 0) {
            throw new IllegalStateException("vma " + v + " overlaps " + t.vmas[i]);
        }
        int n = t.n + 1;
        long[] starts = new long[n];
        long[] ends = new long[n];
        VmArea[] vmas = new VmArea[n];
        System.arraycopy(t.starts, 0, starts, 0, i);
        System.arraycopy(t.ends, 0, ends, 0, i);
        System.arraycopy(t.vmas, 0, vmas, 0, i);
        starts[i] = v.vm_start();
        ends[i] = v.vm_end();
        vmas[i] = v;
        System.arraycopy(t.starts, i, starts, i + 1, t.n - i);
        System.arraycopy(t.ends, i, ends, i + 1, t.n - i);
        System.arraycopy(t.vmas, i, vmas, i + 1, t.n - i);
        root.set(new Node(starts, ends, vmas, n));
    }

    /** Removes {@code v} (by identity; a new node published). */
    public void remove(VmArea v) {
        Node t = locked();
        int i = indexOf(t, v.vm_start());
        if (i >= t.n || t.vmas[i] != v) {
            throw new IllegalStateException("vma " + v + " is not in the tree");
        }
        int n = t.n - 1;
        long[] starts = new long[n];
        long[] ends = new long[n];
        VmArea[] vmas = new VmArea[n];
        System.arraycopy(t.starts, 0, starts, 0, i);
        System.arraycopy(t.ends, 0, ends, 0, i);
        System.arraycopy(t.vmas, 0, vmas, 0, i);
        System.arraycopy(t.starts, i + 1, starts, i, n - i);
        System.arraycopy(t.ends, i + 1, ends, i, n - i);
        System.arraycopy(t.vmas, i + 1, vmas, i, n - i);
        root.set(new Node(starts, ends, vmas, n));
    }

    /** A vma's bounds changed in place (split, merge, expand_stack): republish its range if it is in the tree. */
    void boundsChanged(VmArea v) {
        Node t = locked();
        for (int i = 0; i < t.n; i++) {
            if (t.vmas[i] == v) {
                long[] starts = t.starts.clone();
                long[] ends = t.ends.clone();
                starts[i] = v.vm_start();
                ends[i] = v.vm_end();
                root.set(new Node(starts, ends, t.vmas, t.n));
                return;
            }
        }
    }

    public void clear() {
        root.set(EMPTY);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        Node t = locked();
        for (int i = 0; i < t.n; i++) {
            sb.append(t.vmas[i]).append('\n');
        }
        return sb.toString();
    }
}

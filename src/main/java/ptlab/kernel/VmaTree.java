package ptlab.kernel;

import java.util.Arrays;

/**
 * The ordered set of an mm's VMAs (the maple tree's role): non-overlapping, sorted by
 * vm_start, in two parallel arrays. {@link #find_vma} is a binary search, O(log n) and
 * allocation-free (the fault path calls it); insertion and removal shift the arrays, O(n),
 * which mmap/munmap can afford. Readers hold mmap_lock for read, writers for write.
 */
public final class VmaTree {

    private long[] starts = new long[8];
    private VmArea[] vmas = new VmArea[8];
    private int n;

    public int size() {
        return n;
    }

    public VmArea get(int i) {
        if (i < 0 || i >= n) {
            throw new IndexOutOfBoundsException("vma index " + i + " of " + n);
        }
        return vmas[i];
    }

    /** Index of the first vma with vm_end > addr, or size() if none (unsigned compares). */
    public int indexOf(long addr) {
        int lo = 0;
        int hi = n - 1;
        int found = n;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            if (Long.compareUnsigned(vmas[mid].vm_end, addr) > 0) {
                found = mid;
                hi = mid - 1;
            } else {
                lo = mid + 1;
            }
        }
        return found;
    }

    /** find_vma(mm, addr): the first vma with vm_end > addr (it may start above addr), or null. */
    public VmArea find_vma(long addr) {
        int i = indexOf(addr);
        return i < n ? vmas[i] : null;
    }

    /** vma_lookup(mm, addr): the vma containing addr, or null. */
    public VmArea vma_lookup(long addr) {
        VmArea v = find_vma(addr);
        return v != null && Long.compareUnsigned(v.vm_start, addr) <= 0 ? v : null;
    }

    /** find_vma_intersection(mm, start, end): the first vma overlapping [start, end). */
    public VmArea find_vma_intersection(long start, long end) {
        VmArea v = find_vma(start);
        return v != null && Long.compareUnsigned(v.vm_start, end) < 0 ? v : null;
    }

    /** The vma before index {@code i}, or null. */
    public VmArea prev(int i) {
        return i > 0 ? vmas[i - 1] : null;
    }

    /** vma_link(): inserts; throws if it overlaps an existing vma. */
    public void insert(VmArea v) {
        int i = indexOf(v.vm_start);
        if (i < n && Long.compareUnsigned(vmas[i].vm_start, v.vm_end) < 0) {
            throw new IllegalStateException("vma " + v + " overlaps " + vmas[i]);
        }
        if (n == vmas.length) {
            vmas = Arrays.copyOf(vmas, n * 2);
            starts = Arrays.copyOf(starts, n * 2);
        }
        System.arraycopy(vmas, i, vmas, i + 1, n - i);
        System.arraycopy(starts, i, starts, i + 1, n - i);
        vmas[i] = v;
        starts[i] = v.vm_start;
        n++;
    }

    /** Removes {@code v} (by identity). */
    public void remove(VmArea v) {
        int i = indexOf(v.vm_start);
        if (i >= n || vmas[i] != v) {
            throw new IllegalStateException("vma " + v + " is not in the tree");
        }
        System.arraycopy(vmas, i + 1, vmas, i, n - i - 1);
        System.arraycopy(starts, i + 1, starts, i, n - i - 1);
        vmas[--n] = null;
    }

    /** Must be called after a vma's vm_start changed in place (expand_stack, split). */
    void startChanged(VmArea v) {
        for (int i = 0; i < n; i++) {
            if (vmas[i] == v) {
                starts[i] = v.vm_start;
                return;
            }
        }
    }

    public void clear() {
        Arrays.fill(vmas, 0, n, null);
        n = 0;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append(vmas[i]).append('\n');
        }
        return sb.toString();
    }
}

package ptlab.kernel.vmalloc;

import ptlab.kernel.MmStruct;

/**
 * {@code lazy-fault}: vmalloc touches only init_mm; a kernel-mode page fault on a vmalloc
 * address copies the missing sync-level entry from init_mm and retries. Models
 * vmalloc_fault() in arch/x86/mm/fault.c (x86-64 until v5.9, x86-32 again since "x86/mm/32:
 * Bring back vmalloc faulting on x86_32"): "set_pgd(pgd, *pgd_k)" if the process's entry is
 * none, and the fault may come from any context, an NMI included (mail 003).
 */
public final class LazyFault implements VmallocSyncStrategy {

    @Override
    public String name() {
        return "lazy-fault";
    }

    @Override
    public String description() {
        return "vmalloc_fault(): copy the missing entry from init_mm on a kernel #PF, in any context";
    }

    @Override
    public boolean toleratesFaults() {
        return true;
    }

    @Override
    public boolean vmallocFault(KernelMappingSync s, MmStruct mm, long address) {
        if (!s.populatedInInitMm(address)) {
            return false;                       // not a vmalloc mapping at all: a real oops
        }
        s.vmallocFaults++;
        s.copyEntry(mm, address);
        // As vmalloc_fault() walks on down: the lower levels are shared, so the address must now
        // be mapped in mm; if it is not (a pte not present), the fault is a real bad access.
        return s.inSync(mm, address) && s.kernel().lookup(mm, address) != -1;
    }
}

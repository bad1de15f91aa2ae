package ptlab.kernel;

import java.util.concurrent.atomic.AtomicInteger;

import ptlab.hw.AccessType;
import ptlab.hw.CpuRegisters;
import ptlab.hw.Mmu;
import ptlab.hw.PageFaultError;
import ptlab.hw.PagingMode;
import ptlab.hw.PhysicalMemory;
import ptlab.hw.WalkResult;

/**
 * The kernel (its mm read from Linux v6.6): boots over fresh simulated hardware (memory, CPUs with MMUs), builds init_mm
 * with the direct map, and offers processes, the memory system calls, and the user-access entry
 * point that trace replay and scenarios drive.
 *
 * <pre>
 *   Kernel k = new Kernel(PagingMode.X86_64, KernelConfig.defaults());
 *   Cpu cpu = k.cpu(0);
 *   Task t = k.createProcess();
 *   k.switchTo(cpu, t);                                   // context_switch → switch_mm
 *   long a = k.mmap(t, 0, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
 *   long pa = k.access(cpu, a, AccessType.WRITE);         // #PF → handle_mm_fault → retry
 *   Task child = k.fork(t);                               // COW
 *   k.exit(child); k.exit(t);
 * </pre>
 *
 * Syscalls run on the CPU the task is current on (or, for a task not running, on no CPU: every
 * flush then goes out as IPIs). One thread per simulated CPU may call in concurrently; the
 * kernel's own locks serialise what Linux serialises.
 */
public final class Kernel {

    public static final int PROT_NONE = Mmap.PROT_NONE;
    public static final int PROT_READ = Mmap.PROT_READ;
    public static final int PROT_WRITE = Mmap.PROT_WRITE;
    public static final int PROT_EXEC = Mmap.PROT_EXEC;
    public static final int MAP_SHARED = Mmap.MAP_SHARED;
    public static final int MAP_PRIVATE = Mmap.MAP_PRIVATE;
    public static final int MAP_FIXED = Mmap.MAP_FIXED;
    public static final int MAP_ANONYMOUS = Mmap.MAP_ANONYMOUS;
    public static final int MAP_GROWSDOWN = Mmap.MAP_GROWSDOWN;
    public static final int MAP_FIXED_NOREPLACE = Mmap.MAP_FIXED_NOREPLACE;

    /** {@link #access} result: the access gets SIGSEGV. */
    public static final long SIGSEGV = -11;
    /** {@link #access} result: SIGBUS. */
    public static final long SIGBUS = -7;
    /** {@link #access} result: the fault ran out of memory (VM_FAULT_OOM). */
    public static final long OOM = -12;

    /** DEFAULT_MAP_WINDOW on x86-64: the 47-bit user space mmap and the stack stay below. */
    static final long DEFAULT_MAP_WINDOW = (1L << 47) - 4096;
    /** MIN_GAP between the stack top and mmap_base (arch/x86/mm/mmap.c): 128 MiB. */
    static final long MIN_GAP = 128L << 20;
    static final long STACK_SIZE = 128L << 10;

    private final PagingMode mode;
    private final KernelConfig cfg;
    private final Interleaving interleaving;
    private final KernelVariant variant;
    private final PhysicalMemory memory;
    private final KernelLayout layout;
    private final FrameAllocator alloc;
    private final Pgtable pt;
    private final Cpu[] cpus;
    private final TlbFlush tlb;
    private final KernelStats stats = new KernelStats();
    private final ArchPgtable arch;
    private final MmStruct initMm;
    private final long zeroPage;
    private final Memory mm;
    private final HugeMemory huge;
    private final Mmap mmap;
    private final FaultLocking faultLocking;
    private final VmaLocks vmaLocks;
    private final FaultPaths faults;
    private final FrameAllocator.Snapshot bootSnapshot;
    private final AtomicInteger nextPid = new AtomicInteger(1);
    /** mm ids of this kernel; init_mm is 0. */
    private final AtomicInteger nextMmId = new AtomicInteger(1);

    /** The correct kernel, run straight through (no scheduler). */
    public Kernel(PagingMode mode, KernelConfig cfg) {
        this(mode, cfg, Interleaving.NONE, KernelVariant.CORRECT);
    }

    /**
     * A kernel whose locks, shared variables and mmu_gather frees are announced to
     * {@code interleaving} (a simulation engine's scheduler), booted with the broken
     * behaviours of {@code variant}. Both are fixed for the kernel's life. Its faults take the
     * classic mmap_lock handler, without vma lock words in memory.
     */
    public Kernel(PagingMode mode, KernelConfig cfg, Interleaving interleaving, KernelVariant variant) {
        this(mode, cfg, interleaving, variant, null);
    }

    /**
     * The same, with user faults taking {@code faultLocking}'s path ({@link FaultPaths}; null:
     * the classic handler). Fixed for the kernel's life, like the variant.
     */
    public Kernel(PagingMode mode, KernelConfig cfg, Interleaving interleaving, KernelVariant variant,
                  FaultLocking faultLocking) {
        this(mode, cfg, interleaving, variant, faultLocking, null);
    }

    /**
     * The kernel {@code image} froze, restored over {@code interleaving}: what a boot with the
     * image's mode, configuration, variant and fault path would give ({@link KernelImage}),
     * without doing the boot's work on memory and the frame allocator again.
     */
    public Kernel(KernelImage image, Interleaving interleaving) {
        this(image.mode, image.cfg, interleaving, image.variant, image.faultLocking, image);
    }

    private Kernel(PagingMode mode, KernelConfig cfg, Interleaving interleaving, KernelVariant variant,
                   FaultLocking faultLocking, KernelImage image) {
        this.interleaving = interleaving;
        this.variant = variant;
        if (mode == PagingMode.X86_32 && cfg.ramBytes() > (4L << 30)) {
            throw new IllegalArgumentException("x86-32 without PAE addresses at most 4 GiB of RAM, got " + cfg.ramBytes());
        }
        if (cfg.pcid() && !mode.isLongMode()) {
            throw new IllegalArgumentException("PCID needs 4- or 5-level paging, not " + mode);
        }
        this.mode = mode;
        this.cfg = cfg;
        if (image == null) {
            this.memory = new PhysicalMemory(cfg.ramBytes(), cfg.nodes());
            this.layout = KernelLayout.of(mode, mode.isLongMode() ? null : cfg.vmSplit(), cfg.ramBytes(),
                    mode.isLongMode() ? null : cfg.topReserveBytes());
            long lowmemEnd = mode.isLongMode() ? cfg.ramBytes() : layout.directMapBytes();
            this.alloc = new FrameAllocator(memory, lowmemEnd, cfg.kernelImageBytes(), interleaving);
        } else {
            this.memory = new PhysicalMemory(image.memory);
            this.layout = image.layout;
            this.alloc = new FrameAllocator(image.allocator, memory, interleaving);
        }
        this.pt = new Pgtable(memory, mode, mode.defaultMaxPhyAddr(), alloc, interleaving, variant);
        this.cpus = new Cpu[cfg.cpus()];
        this.tlb = new TlbFlush(cpus, cfg.pcid(), variant);
        for (int i = 0; i < cpus.length; i++) {
            CpuRegisters regs = new CpuRegisters(mode);
            regs.setPcide(cfg.pcid());
            Mmu mmu = new Mmu(memory, regs, cfg.tlb());
            mmu.setPge(true);                                  // CR4.PGE: kernel mappings are global
            cpus[i] = new Cpu(i, i * cfg.nodes() / cpus.length, mmu, tlb, interleaving);
        }
        this.arch = new ArchPgtable(this);
        if (image == null) {
            this.initMm = arch.bootInitMm(0);
            this.zeroPage = alloc.allocFrame(0, FrameUse.KERNEL);  // empty_zero_page
        } else {
            this.initMm = arch.restoreInitMm(image.initPgd, image.initPgtables);
            for (long table : image.ptlockTables) {
                pt.pagetableCtor(table);
            }
            this.zeroPage = image.zeroPage;
        }
        tlb.setInitMm(initMm);
        pt.setPdptChangeListener(m -> tlb.flush_tlb_mm(null, m));
        this.mm = new Memory(this);
        this.huge = new HugeMemory(this);
        this.faultLocking = faultLocking;
        this.vmaLocks = new VmaLocks(alloc, memory, faultLocking != null);
        this.mmap = new Mmap(this);
        this.faults = new FaultPaths(this);
        for (Cpu c : cpus) {
            tlb.switch_mm_irqs_off(c, initMm);
            c.active_mm = initMm;
        }
        this.bootSnapshot = alloc.snapshot();
    }

    // ---- components -------------------------------------------------------------------------------

    public PagingMode mode() {
        return mode;
    }

    /** The fault path this kernel was built with, or null (legacy mmap_lock handler). */
    public FaultLocking faultLocking() {
        return faultLocking;
    }

    public VmaLocks vmaLocks() {
        return vmaLocks;
    }

    /** The lockless fault paths and their counters. */
    public FaultPaths faultPaths() {
        return faults;
    }

    Mmap mmapOps() {
        return mmap;
    }

    public KernelConfig config() {
        return cfg;
    }

    /** The scheduler hook this kernel was built with ({@link Interleaving#NONE} outside an engine). */
    public Interleaving interleaving() {
        return interleaving;
    }

    /** The broken behaviours this kernel was booted with. */
    public KernelVariant variant() {
        return variant;
    }

    public PhysicalMemory memory() {
        return memory;
    }

    public KernelLayout layout() {
        return layout;
    }

    public FrameAllocator allocator() {
        return alloc;
    }

    public Pgtable pgtable() {
        return pt;
    }

    public TlbFlush tlb() {
        return tlb;
    }

    public ArchPgtable arch() {
        return arch;
    }

    public KernelStats stats() {
        return stats;
    }

    public MmStruct initMm() {
        return initMm;
    }

    public Cpu cpu(int i) {
        return cpus[i];
    }

    public int cpuCount() {
        return cpus.length;
    }

    /** Physical address of empty_zero_page. */
    public long zeroPage() {
        return zeroPage;
    }

    Memory mm() {
        return mm;
    }

    HugeMemory huge() {
        return huge;
    }

    /** The allocator's state right after boot (init_mm, zero page): what must remain when all processes are gone. */
    public FrameAllocator.Snapshot bootSnapshot() {
        return bootSnapshot;
    }

    /** Throws with a leak report unless every frame allocated since boot was freed. */
    public void checkNoLeaks() {
        alloc.checkBalanced(bootSnapshot);
    }

    /** Page-table pages of hardware level {@code level} in all mms, init_mm included. */
    public long pageTablePages(int level) {
        return alloc.pageTables(level);
    }

    // ---- processes -----------------------------------------------------------------------------------

    /**
     * A new process with an empty address space (pgd_alloc) and a 128 KiB stack vma below
     * STACK_TOP; null when out of memory. It runs nowhere until {@link #switchTo}.
     */
    public Task createProcess() {
        MmStruct m = new MmStruct(nextMmId.getAndIncrement(), false, interleaving, cpus.length);
        if (arch.pgd_alloc(m, 0) != 0) {
            return null;
        }
        vmaLocks.mm_init(m);
        setup_new_exec(m);
        return new Task(nextPid.getAndIncrement(), m);
    }

    /** The address-space layout of a fresh exec: TASK_SIZE, mmap_base, brk, stack. */
    private void setup_new_exec(MmStruct m) {
        long stackTop;
        if (mode.isLongMode()) {
            m.task_size = mode == PagingMode.X86_64_LA57 ? (1L << 56) - 4096 : DEFAULT_MAP_WINDOW;   // TASK_SIZE_MAX
            stackTop = DEFAULT_MAP_WINDOW;
            m.start_brk = 0x5555_5600_0000L;
        } else {
            m.task_size = layout.pageOffset();                   // TASK_SIZE = PAGE_OFFSET
            stackTop = m.task_size;
            m.start_brk = 0x0900_0000L;
        }
        m.brk = m.start_brk;
        m.mmap_base = stackTop - MIN_GAP;                        // mmap_base(): gap clamped to MIN_GAP, no randomisation
        m.start_stack = stackTop;
        long flags = VmArea.VM_READ | VmArea.VM_WRITE | VmArea.VM_MAYREAD | VmArea.VM_MAYWRITE
                | VmArea.VM_MAYEXEC | VmArea.VM_GROWSDOWN;
        m.mm_mt.insert(new VmArea(m, stackTop - STACK_SIZE, stackTop, flags, mmap.vm_get_page_prot(flags)));
    }

    /**
     * fork(): a child with a copy of the parent's address space (dup_mmap with COW); null when
     * out of memory (everything half-built is freed again).
     */
    public Task fork(Task parent) {
        MmStruct old = parent.mm;
        if (old == null) {
            throw new IllegalStateException(parent + " has no mm (it exited)");
        }
        Cpu cpu = parent.cpu;
        MmStruct m = new MmStruct(nextMmId.getAndIncrement(), false, interleaving, cpus.length);
        if (arch.pgd_alloc(m, cpu == null ? 0 : cpu.node()) != 0) {
            return null;
        }
        vmaLocks.mm_init(m);
        if (mmap.dup_mmap(cpu, m, old) != 0) {
            mmput(cpu, m);
            return null;
        }
        stats.forks.incrementAndGet();
        return new Task(nextPid.getAndIncrement(), m);
    }

    /** clone(CLONE_VM): a thread sharing {@code parent}'s mm (mm_users + 1). */
    public Task cloneThread(Task parent) {
        MmStruct m = live(parent);
        m.mm_users.incrementAndGet();                            // mmget()
        return new Task(nextPid.getAndIncrement(), m);
    }

    /**
     * do_exit() → exit_mm(): the task lets go of its mm. If it is running, its CPU goes on in
     * lazy TLB mode with the mm still loaded (as the idle task would) until it switches to
     * another task. The last user tears the address space down (exit_mmap).
     */
    public void exit(Task t) {
        MmStruct m = t.mm;
        if (m == null) {
            throw new IllegalStateException(t + " already exited");
        }
        Cpu cpu = t.cpu;
        t.mm = null;
        t.dead = true;
        if (cpu != null) {
            cpu.current = null;
            t.cpu = null;
            tlb.enter_lazy_tlb(cpu);                             // active_mm keeps its mm_count reference
        }
        mmput(cpu, m);
        stats.exits.incrementAndGet();
    }

    /** mmput(): the last user unmaps everything and frees the page tables; then mmdrop. */
    void mmput(Cpu cpu, MmStruct m) {
        if (m.mm_users.decrementAndGet() == 0) {
            mmap.exit_mmap(cpu, m);
            mmdrop(m);
        }
    }

    /** mmgrab(). */
    void mmgrab(MmStruct m) {
        m.mm_count.incrementAndGet();
    }

    /** mmdrop() → __mmdrop(): pgd_free and check_mm when the last reference goes. */
    void mmdrop(MmStruct m) {
        if (m.mm_count.decrementAndGet() == 0) {
            arch.pgd_free(m);
            vmaLocks.mm_free(m);
            m.check_mm();
        }
    }

    /**
     * context_switch(): run {@code next} on {@code cpu} (null: a kernel thread / idle, which
     * enters lazy TLB mode and keeps the previous mm loaded). A CPU holds an mm_count
     * reference on its active_mm; it is dropped after the switch (finish_task_switch), which may
     * free a dead mm's pgd — after CR3 no longer points at it.
     */
    public void switchTo(Cpu cpu, Task next) {
        Task prev = cpu.current;
        if (prev == next) {
            return;
        }
        if (next != null && next.cpu != null) {
            throw new IllegalStateException(next + " is already running on " + next.cpu);
        }
        if (next != null && next.mm == null) {
            throw new IllegalStateException(next + " has exited");
        }
        if (prev != null) {
            prev.cpu = null;
        }
        if (next == null) {
            cpu.current = null;
            tlb.enter_lazy_tlb(cpu);
            return;
        }
        MmStruct oldActive = cpu.active_mm;
        tlb.switch_mm_irqs_off(cpu, next.mm);
        if (oldActive != next.mm) {
            mmgrab(next.mm);
            cpu.active_mm = next.mm;
            if (oldActive != null && oldActive != initMm) {
                mmdrop(oldActive);
            }
        }
        cpu.current = next;
        next.cpu = cpu;
    }

    /**
     * What a lazy CPU does when it next schedules (or what idle does before a deep C-state):
     * leave_mm() to init_mm and drop the borrowed active_mm (mmdrop_lazy_tlb). A dead process's
     * pgd is freed once no CPU borrows its mm.
     */
    public void unlazy(Cpu cpu) {
        if (cpu.current != null) {
            return;
        }
        tlb.leave_mm(cpu);
        MmStruct old = cpu.active_mm;
        cpu.active_mm = initMm;
        if (old != null && old != initMm) {
            mmdrop(old);
        }
    }

    /** {@link #unlazy} on every idle CPU. */
    public void unlazyAll() {
        for (Cpu c : cpus) {
            unlazy(c);
        }
    }

    // ---- system calls --------------------------------------------------------------------------------

    /** mmap(addr, len, prot, flags) for anonymous memory: the address, or -errno. */
    public long mmap(Task t, long addr, long len, int prot, int flags) {
        return mmap.do_mmap(t.cpu, live(t), addr, len, prot, flags);
    }

    /** munmap(addr, len): 0 or -errno. */
    public int munmap(Task t, long addr, long len) {
        return mmap.do_munmap(t.cpu, live(t), addr, len);
    }

    /** mprotect(addr, len, prot): 0 or -errno. */
    public int mprotect(Task t, long addr, long len, int prot) {
        return mmap.do_mprotect(t.cpu, live(t), addr, len, prot);
    }

    /**
     * madvise(addr, len, MADV_DONTNEED) with empty pte-table reclaim ({@link PtReclaim}), under
     * mmap_lock for read: 0 or -errno; the number of pte tables freed is added to {@code freed[0]}.
     */
    public int madvise_dontneed(Task t, long addr, long len, long[] freed) {
        return new PtReclaim(this).madvise_dontneed(t.cpu, live(t), addr, len, freed);
    }

    /** brk(addr): the new break (the old one if it could not move; brk(0) queries). */
    public long brk(Task t, long addr) {
        return mmap.brk(t.cpu, live(t), addr);
    }

    private static MmStruct live(Task t) {
        if (t.mm == null) {
            throw new IllegalStateException(t + " has exited");
        }
        return t.mm;
    }

    // ---- user access and the page-fault entry ---------------------------------------------------------

    /**
     * A user-mode access by the task current on {@code cpu}: translate through the CPU's MMU; on a
     * page fault run the fault handler and retry. Returns the physical address, or
     * {@link #SIGSEGV}, {@link #SIGBUS} or {@link #OOM}. Allocates nothing.
     */
    public long access(Cpu cpu, long va, AccessType type) {
        Task t = cpu.current;
        if (t == null) {
            throw new IllegalStateException(cpu + " runs no user task");
        }
        WalkResult w = cpu.walk;
        Mmu mmu = cpu.mmu();
        for (int attempt = 0; attempt < 16; attempt++) {
            if (mmu.translate(va, type, true, false, w)) {
                return w.pa;
            }
            if (w.exception != WalkResult.EXC_PF) {
                stats.sigsegv.incrementAndGet();                  // #GP: non-canonical address
                return SIGSEGV;
            }
            int fault = do_user_addr_fault(cpu, t, w.errorCode, va);
            if ((fault & VmFault.VM_FAULT_SIGSEGV) != 0) {
                stats.sigsegv.incrementAndGet();
                return SIGSEGV;
            }
            if ((fault & VmFault.VM_FAULT_SIGBUS) != 0) {
                return SIGBUS;
            }
            if ((fault & VmFault.VM_FAULT_OOM) != 0) {
                return OOM;
            }
        }
        throw new IllegalStateException(String.format("%s: fault loop at va 0x%x (%s) for %s", cpu, va, type, t));
    }

    /** Writes a 64-bit value at user address {@code va} (8-byte aligned) through {@link #access}; false on a signal. */
    public boolean writeUserLong(Cpu cpu, long va, long value) {
        long pa = access(cpu, va, AccessType.WRITE);
        if (pa < 0) {
            return false;
        }
        memory.storeLong(pa, value);
        return true;
    }

    /** Reads a 64-bit value at user address {@code va}; {@code orElse} on a signal. */
    public long readUserLong(Cpu cpu, long va, long orElse) {
        long pa = access(cpu, va, AccessType.READ);
        return pa < 0 ? orElse : memory.loadLong(pa);
    }

    /**
     * do_user_addr_fault() (arch/x86/mm/fault.c) for a fault in user mode: kernel addresses and
     * reserved-bit faults are fatal; otherwise find the vma under mmap_lock (growing a stack if
     * needed), check the access against vm_flags (access_error), and call handle_mm_fault.
     * Returns a VM_FAULT_* value.
     */
    public int do_user_addr_fault(Cpu cpu, Task t, int errorCode, long address) {
        if (faultLocking != null) {
            return faults.do_user_addr_fault(cpu, t, errorCode, address);
        }
        return do_user_addr_fault_locked(cpu, t, errorCode, address);
    }

    /** The classic path: lock_mm_and_find_vma() under mmap_lock for read, then handle_mm_fault. */
    int do_user_addr_fault_locked(Cpu cpu, Task t, int errorCode, long address) {
        MmStruct m = t.mm;
        if (Long.compareUnsigned(address, m.task_size) >= 0 || (errorCode & PageFaultError.RSVD) != 0) {
            return VmFault.VM_FAULT_SIGSEGV;                      // bad_area_nosemaphore / pgtable_bad
        }
        int flags = VmFault.FAULT_FLAG_ALLOW_RETRY | VmFault.FAULT_FLAG_USER;
        if ((errorCode & PageFaultError.WR) != 0) {
            flags |= VmFault.FAULT_FLAG_WRITE;
        }
        if ((errorCode & PageFaultError.ID) != 0) {
            flags |= VmFault.FAULT_FLAG_INSTRUCTION;
        }
        m.mmap_lock.down_read();                                  // lock_mm_and_find_vma()
        VmArea vma = m.mm_mt.find_vma(address);
        if (vma != null && Long.compareUnsigned(vma.vm_start(), address) > 0) {
            vma = expandStack(m, vma, address);
        }
        if (vma == null) {
            m.mmap_lock.up_read();
            return VmFault.VM_FAULT_SIGSEGV;                      // bad_area()
        }
        if (access_error(errorCode, vma)) {
            m.mmap_lock.up_read();
            return VmFault.VM_FAULT_SIGSEGV;                      // bad_area_access_error()
        }
        int fault = mm.handle_mm_fault(cpu, vma, address, flags);
        m.mmap_lock.up_read();
        return fault;
    }

    /**
     * The vma below {@code vma} grows down to cover address, or null. Growing needs the
     * mmap_lock for write: drop the read lock, take it for write, look again, expand, and
     * downgrade (lock_mm_and_find_vma → expand_stack_locked).
     */
    private VmArea expandStack(MmStruct m, VmArea vma, long address) {
        if ((vma.vm_flags() & VmArea.VM_GROWSDOWN) == 0) {
            return null;
        }
        m.mmap_lock.up_read();
        vmaLocks.mmap_write_lock(m);
        VmArea v = m.mm_mt.find_vma(address);
        if (v != null && Long.compareUnsigned(v.vm_start(), address) > 0
                && ((v.vm_flags() & VmArea.VM_GROWSDOWN) == 0 || mmap.expand_stack_locked(m, v, address) != 0)) {
            v = null;
        }
        vmaLocks.mmap_write_downgrade(m);
        return v;
    }

    /**
     * handle_mm_fault(vma, address, flags) for callers that do their own vma lookup (speculative
     * and per-vma-lock fault handling): the caller holds what protects {@code vma}.
     */
    public int handle_mm_fault(Cpu cpu, VmArea vma, long address, int flags) {
        return mm.handle_mm_fault(cpu, vma, address, flags);
    }

    /** access_error() (arch/x86/mm/fault.c). */
    static boolean access_error(int errorCode, VmArea vma) {
        if ((errorCode & PageFaultError.PK) != 0) {
            return true;
        }
        if ((errorCode & PageFaultError.WR) != 0) {
            return (vma.vm_flags() & VmArea.VM_WRITE) == 0;
        }
        if ((errorCode & PageFaultError.P) != 0) {
            return true;                                          // read of a present page: a protection fault
        }
        return !vma.isAccessible();
    }

    // ---- inspection --------------------------------------------------------------------------------------

    /**
     * The physical address {@code va} maps to in {@code m}'s page tables right now (a software
     * walk, no TLB, no fault), or -1 if unmapped.
     */
    public long lookup(MmStruct m, long va) {
        int[] level = new int[1];
        long p = pt.walk(m, va, level);
        if (p < 0) {
            return -1;
        }
        long e = pt.get(p);
        if (!pt.present(level[0], e) || (e & ptlab.hw.PteBits.P) == 0) {
            return -1;
        }
        long size = pt.size(level[0]);
        return pt.leaf_page(level[0], e) | (va & (size - 1));
    }

    /** The leaf entry mapping {@code va} in {@code m} (0 if none). */
    public long leafEntry(MmStruct m, long va) {
        int[] level = new int[1];
        long p = pt.walk(m, va, level);
        return p < 0 ? 0 : pt.get(p);
    }
}

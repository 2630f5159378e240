using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Sync;

namespace FastPt.Mm;

/// <summary>The machine's split page-table locks (<c>Documentation/mm/split_page_table_lock.rst</c>): every PTE and
/// PMD table of a user address space carries its own spinlock in its page descriptor, inline in the
/// <see cref="PageDescriptor.Private"/> word or (allocated mode) as the physical address of a
/// <see cref="PtlockRecord"/>; higher levels, the kernel's own tables and everything in single mode use the
/// address space's <c>page_table_lock</c>. Since Linux 6.15 init_mm's tables carry no split lock either
/// (<c>pagetable_pte_ctor</c> skips <c>ptlock_init</c> for <c>&amp;init_mm</c>).</summary>
internal sealed unsafe class SplitPageTableLocks
{
    private readonly Memmap _memmap;
    private readonly Vmstat _stat;
    private readonly bool _checked;

    public SplitPageTableLocks(PageTableLockMode mode, Memmap memmap, PtlockCache cache, Vmstat stat, bool checkedMode)
    {
        Mode = mode;
        _memmap = memmap;
        Cache = cache;
        _stat = stat;
        _checked = checkedMode;
    }

    public PageTableLockMode Mode { get; }

    /// <summary>Where allocated locks come from.</summary>
    public PtlockCache Cache { get; }

    /// <summary>True when a table of <paramref name="level"/> gets a lock of its own (USE_SPLIT_PTE_PTLOCKS and
    /// USE_SPLIT_PMD_PTLOCKS, for a user address space).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool HasSplitLock(int level, bool kernel) => Mode != PageTableLockMode.SingleLock && !kernel && level <= Paging.PmdLevel;

    /// <summary><c>ptlock_init</c>: sets up the lock of a new table. Fails only in allocated mode, when no lock
    /// record can be allocated (<c>ptlock_alloc</c>).</summary>
    public bool TryInit(ulong pfn, PageDescriptor* d)
    {
        if (Mode == PageTableLockMode.Allocated)
        {
            if (!Cache.TryAllocate(pfn, out ulong recordPa)) return false;
            d->Private = recordPa;
        }
        else
        {
            d->Private = 0; // spin_lock_init
        }
        d->Flags |= PageFlags.HasPtlock;
        Vmstat.Add(ref _stat.PtlocksAllocated, 1);
        return true;
    }

    /// <summary><c>ptlock_free</c>: the destructor's part for the lock. A table without one is left alone.</summary>
    public void Free(ulong pfn, PageDescriptor* d)
    {
        if ((d->Flags & PageFlags.HasPtlock) == 0) return;
        if (Mode == PageTableLockMode.Allocated)
        {
            Cache.Free(d->Private, pfn);
        }
        else if (Unsafe.AsRef<RawSpinLock>(&d->Private).IsHeld)
        {
            throw new System.InvalidOperationException($"ptlock_free: the lock of table pfn 0x{pfn:x} is still held");
        }
        d->Private = 0;
        d->Flags &= ~PageFlags.HasPtlock;
        Vmstat.Add(ref _stat.PtlocksFreed, 1);
    }

    /// <summary>The lock guarding the table at <paramref name="tablePa"/> (level <paramref name="level"/>) of
    /// <paramref name="mm"/>: <c>ptlock_ptr</c> of its descriptor for a split lock, else the address space's
    /// <c>page_table_lock</c>. Checked mode reports a lock looked up on a table that was freed.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageTableLock LockOf(MmStruct mm, ulong tablePa, int level)
    {
        if (!HasSplitLock(level, mm.IsKernel)) return new PageTableLock(ref mm.PageTableLock, null, this, mm.RootPa >> Paging.PageShift, mm.RootLevel);
        ulong pfn = tablePa >> Paging.PageShift;
        PageDescriptor* d = _memmap.GetMutable(pfn);
        if (_checked && (d->Flags & (PageFlags.Table | PageFlags.HasPtlock)) != (PageFlags.Table | PageFlags.HasPtlock)) ThrowFreed(pfn, level);
        if (Mode == PageTableLockMode.Inline) return new PageTableLock(ref Unsafe.AsRef<RawSpinLock>(&d->Private), null, this, pfn, level);
        PtlockRecord* record = Cache.Get(d->Private, pfn);
        if (record == null) ThrowFreed(pfn, level);
        return new PageTableLock(ref record->Lock, record, this, pfn, level);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowFreed(ulong pfn, int level)
    {
        Vmstat.Add(ref _stat.UseAfterFreeDetected, 1);
        throw new UseAfterFreeException($"checked mode: page-table lock taken on level-{level} table pfn 0x{pfn:x}, which was freed",
            default, new PhysAddr(pfn << Paging.PageShift));
    }

    /// <summary>The slow path of a lock that was held: counts and traces the contention, then spins (backing off to
    /// yielding, so a preempted holder on a loaded machine costs time slices, not a hang).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public void EnterContended(ref RawSpinLock spinlock, ulong tablePfn, int level)
    {
        Vmstat.Add(ref _stat.PageTableLockContentions, 1);
        var spin = new SpinWait();
        int spins = 0;
        while (true)
        {
            spin.SpinOnce(sleep1Threshold: -1);
            spins++;
            if (!spinlock.IsHeld && spinlock.TryEnter()) break;
        }
        Diagnostics.FastPtEventSource.Log.LockContended(level, tablePfn, spins);
    }

    /// <summary>Statistics of allocated locks (zero in the other modes, which keep none).</summary>
    public (long Acquisitions, double HoldSeconds, double MaxHoldSeconds) AllocatedLockStatistics()
    {
        (long acquisitions, long hold, long max) = Cache.Statistics();
        return (acquisitions, hold / (double)Stopwatch.Frequency, max / (double)Stopwatch.Frequency);
    }
}

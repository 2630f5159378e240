using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Mm;

namespace FastPt.HugeTlb;

/// <summary>The HugeTLB pool (<c>mm/hugetlb.c</c>): 2 MiB and 1 GiB folios taken from the buddy allocator as
/// compound pages (PG_head, PG_hugetlb, tails leading to the head, the order in the first tail), kept on a free list
/// with their refcount frozen at 0, sized like <c>nr_hugepages</c>, with surplus folios made on demand up to
/// <c>nr_overcommit_hugepages</c>. New folios get their vmemmap optimized when
/// <c>vm.hugetlb_optimize_vmemmap</c> is on at the time they are allocated; a folio leaving the pool gets its
/// vmemmap back first, and if that fails it stays in the pool as a free surplus folio (nothing lost) until a later
/// resize tries again. The vmemmap work runs outside <see cref="HugetlbLock"/>; the lock only guards lists and
/// counts, and no path takes it twice.</summary>
internal sealed unsafe class HugeTlbPoolCore
{
    public const int Order2M = 9;
    public const int Order1G = 18;

    private readonly MemoryManager _memory;
    private readonly HugetlbLock _lock = new();
    private readonly Hstate _huge2M = new(Order2M, PageSize.Size2M);
    private readonly Hstate _huge1G = new(Order1G, PageSize.Size1G);
    private int _optimize;

    public HugeTlbPoolCore(MemoryManager memory, bool optimizeVmemmap)
    {
        _memory = memory;
        Vmemmap = new HugetlbVmemmap(memory);
        _optimize = optimizeVmemmap ? 1 : 0;
    }

    /// <summary>The vmemmap optimization.</summary>
    public HugetlbVmemmap Vmemmap { get; }

    /// <summary>The pool lock (tests check it is never held where the vmemmap is restored).</summary>
    public HugetlbLock PoolLock => _lock;

    /// <summary><c>vm.hugetlb_optimize_vmemmap</c>: read when folios are allocated, so a change affects only folios
    /// allocated after it. Folios optimized before it is switched off stay optimized until they leave the pool.</summary>
    public bool OptimizeVmemmap
    {
        get => Volatile.Read(ref _optimize) != 0;
        set => Volatile.Write(ref _optimize, value ? 1 : 0);
    }

    /// <summary>The hstate of <paramref name="size"/>.</summary>
    public Hstate For(PageSize size) => size switch
    {
        PageSize.Size2M => _huge2M,
        PageSize.Size1G => _huge1G,
        _ => throw new ArgumentOutOfRangeException(nameof(size), "HugeTLB pages are 2 MiB or 1 GiB"),
    };

    /// <summary>The counts of <paramref name="h"/>, read under the pool lock.</summary>
    public HugeTlbPoolCounts Counts(Hstate h)
    {
        using (_lock.Enter()) return CountsLocked(h);
    }

    private static HugeTlbPoolCounts CountsLocked(Hstate h) =>
        new(h.Size, h.NrHugePages, h.FreeHugePages, h.SurplusHugePages, h.NrOvercommitHugePages);

    /// <summary>Sets <c>nr_overcommit_hugepages</c>.</summary>
    public void SetOvercommit(Hstate h, long count)
    {
        using (_lock.Enter()) h.NrOvercommitHugePages = count;
    }

    // ------------------------------------------------------------------------------------------ resize

    /// <summary><c>set_max_huge_pages</c>: makes the persistent pool <paramref name="count"/> folios if it can.
    /// In order: surplus folios become persistent while the pool is too small; free surplus folios (left by a restore
    /// that failed earlier) are given back; fresh folios are allocated and optimized as one batch; free folios beyond
    /// the size are restored as one batch and given back; folios still in use beyond it become surplus.</summary>
    public HugeTlbResizeResult Resize(Hstate h, long count, bool batched)
    {
        var watch = Stopwatch.StartNew();
        lock (h.ResizeLock)
        {
            long allocatedBefore = Volatile.Read(ref h.FoliosAllocated), freedBefore = Volatile.Read(ref h.FoliosFreed);
            HvoCounters c = h.Counters;
            long optimizedBefore = HvoCounters.Read(ref c.FoliosOptimized), pagesFreedBefore = HvoCounters.Read(ref c.PagesFreed);
            long pagesRestoredBefore = HvoCounters.Read(ref c.PagesRestored), flushesBefore = HvoCounters.Read(ref c.Flushes);
            HugeTlbError error = HugeTlbError.None;
            string? detail = null;

            using (_lock.Enter())
            {
                while (h.SurplusHugePages > 0 && h.Persistent < count) h.SurplusHugePages--;
            }

            List<Folio> surplus = TakeFree(h, long.MaxValue, surplusOnly: true);
            int stuck = UpdateAndFreeBulk(h, surplus, batched);

            long need;
            using (_lock.Enter()) need = count - h.Persistent;
            if (need > 0)
            {
                var fresh = new List<Folio>((int)Math.Min(need, 1 << 20));
                while (fresh.Count < need)
                {
                    if (!TryAllocFresh(h, out Folio folio))
                    {
                        error = HugeTlbError.OutOfMemory;
                        detail = $"the buddy allocator has no free {h.Size.ShortName()} block after {fresh.Count} of {need} new folios";
                        break;
                    }
                    fresh.Add(folio);
                }
                if (OptimizeVmemmap) Vmemmap.Optimize(CollectionsMarshal.AsSpan(fresh), batched, c);
                using (_lock.Enter())
                {
                    foreach (Folio folio in fresh) Enqueue(h, folio);
                    h.NrHugePages += fresh.Count;
                }
            }

            long excess;
            using (_lock.Enter()) excess = h.Persistent - count;
            if (excess > 0) stuck += UpdateAndFreeBulk(h, TakeFree(h, excess, surplusOnly: false), batched);

            HugeTlbPoolCounts counts;
            using (_lock.Enter())
            {
                // In-use folios beyond the size become surplus: they leave when freed (adjust_pool_surplus).
                long over = h.Persistent - count;
                if (over > 0) h.SurplusHugePages += Math.Min(over, h.NrHugePages - h.SurplusHugePages);
                counts = CountsLocked(h);
            }
            if (stuck > 0 && error == HugeTlbError.None)
            {
                error = HugeTlbError.VmemmapRestoreFailed;
                detail = $"no frames to restore the vmemmap of {stuck} folio(s); they stay in the pool as free surplus folios "
                    + "and the next resize tries again";
            }
            return new HugeTlbResizeResult
            {
                Size = h.Size,
                Requested = count,
                Counts = counts,
                Error = error,
                Detail = detail,
                FoliosAllocated = Volatile.Read(ref h.FoliosAllocated) - allocatedBefore,
                FoliosFreed = Volatile.Read(ref h.FoliosFreed) - freedBefore,
                FoliosOptimized = HvoCounters.Read(ref c.FoliosOptimized) - optimizedBefore,
                VmemmapPagesFreed = HvoCounters.Read(ref c.PagesFreed) - pagesFreedBefore,
                VmemmapPagesRestored = HvoCounters.Read(ref c.PagesRestored) - pagesRestoredBefore,
                Flushes = HvoCounters.Read(ref c.Flushes) - flushesBefore,
                Elapsed = watch.Elapsed,
            };
        }
    }

    /// <summary>Takes up to <paramref name="count"/> folios off the free list (<c>remove_pool_hugetlb_folio</c>);
    /// they leave the counts. With <paramref name="surplusOnly"/>, only as many as there are surplus folios, and the
    /// surplus count drops with them.</summary>
    private List<Folio> TakeFree(Hstate h, long count, bool surplusOnly)
    {
        var taken = new List<Folio>();
        using (_lock.Enter())
        {
            long n = Math.Min(count, h.FreeHugePages);
            if (surplusOnly) n = Math.Min(n, h.SurplusHugePages);
            for (long i = 0; i < n; i++) taken.Add(Dequeue(h));
            h.NrHugePages -= n;
            if (surplusOnly) h.SurplusHugePages -= n;
        }
        return taken;
    }

    /// <summary><c>update_and_free_pages_bulk</c>, called without the pool lock: restores the vmemmap of the
    /// folios as one batch, gives each restored folio back to the buddy allocator, tries the rest one by one (the
    /// frees may have made room: <c>bulk_vmemmap_restore_error</c>), and puts those that still fail back in the pool
    /// as free surplus folios, taking the pool lock itself. Returns how many stayed.</summary>
    private int UpdateAndFreeBulk(Hstate h, List<Folio> folios, bool batched)
    {
        if (folios.Count == 0) return 0;
        Span<Folio> span = CollectionsMarshal.AsSpan(folios);
        int restored = Vmemmap.Restore(span, batched, h.Counters);
        for (int i = 0; i < restored; i++) FreeToBuddy(h, span[i]);
        var stuck = new List<Folio>();
        for (int i = restored; i < span.Length; i++)
        {
            if (Vmemmap.Restore(span.Slice(i, 1), batched: false, h.Counters) == 1) FreeToBuddy(h, span[i]);
            else stuck.Add(span[i]);
        }
        if (stuck.Count > 0)
        {
            using (_lock.Enter())
            {
                foreach (Folio folio in stuck) Enqueue(h, folio);
                h.NrHugePages += stuck.Count;
                h.SurplusHugePages += stuck.Count;
            }
        }
        return stuck.Count;
    }

    // ------------------------------------------------------------------------------------------ folios in use

    /// <summary><c>alloc_hugetlb_folio</c> without reservations: a free folio, or a new surplus one while the
    /// overcommit allows. Its memory is zeroed (the kernel clears a huge page when it is faulted in) and it gets its
    /// reference (<c>folio_ref_unfreeze</c>).</summary>
    public HugeTlbError TryAllocate(Hstate h, out Folio folio)
    {
        bool fresh = false;
        using (_lock.Enter())
        {
            if (h.FreeHugePages > 0)
            {
                folio = Dequeue(h);
            }
            else if (h.SurplusHugePages < h.NrOvercommitHugePages)
            {
                // alloc_surplus_hugetlb_folio: counted first, so concurrent allocations cannot overshoot.
                h.NrHugePages++;
                h.SurplusHugePages++;
                folio = default;
                fresh = true;
            }
            else
            {
                folio = default;
                return HugeTlbError.NoFreeFolio;
            }
        }
        if (fresh)
        {
            if (!TryAllocFresh(h, out folio))
            {
                using (_lock.Enter())
                {
                    h.NrHugePages--;
                    h.SurplusHugePages--;
                }
                return HugeTlbError.OutOfMemory;
            }
            if (OptimizeVmemmap) Vmemmap.Optimize([folio], batched: false, h.Counters);
        }
        _memory.Physical.Fill(folio.HeadPfn << Paging.PageShift, Paging.PageSize << folio.Order, 0);
        // Release: the zeroed memory is visible to whoever sees the reference.
        Volatile.Write(ref _memory.Memmap.GetMutable(folio.HeadPfn)->RefCount, 1);
        return HugeTlbError.None;
    }

    /// <summary><c>free_huge_folio</c>: drops the folio's reference (waiting out speculative ones), then puts it on
    /// the free list, or, when the pool has surplus, restores its vmemmap and gives it back to the buddy allocator —
    /// and if the restore fails, puts it on the free list as a surplus folio.</summary>
    public HugeTlbResult Free(Hstate h, ulong headPfn)
    {
        if (!IsInUse(h, headPfn, out string why)) return new HugeTlbResult(HugeTlbError.InvalidFolio, why);
        ref int refcount = ref _memory.Memmap.GetMutable(headPfn)->RefCount;
        var spin = new SpinWait();
        while (true)
        {
            // Speculative references (page_ref_add_unless) are short-lived; the owner's is the last one.
            int seen = Interlocked.CompareExchange(ref refcount, 0, 1);
            if (seen == 1) break;
            if (seen <= 0) return new HugeTlbResult(HugeTlbError.InvalidFolio, $"the folio at pfn 0x{headPfn:x} was freed already");
            spin.SpinOnce(sleep1Threshold: -1);
        }
        var folio = new Folio(headPfn, h.Order);
        bool giveBack;
        using (_lock.Enter())
        {
            giveBack = h.SurplusHugePages > 0;
            if (giveBack)
            {
                h.NrHugePages--;
                h.SurplusHugePages--;
            }
            else
            {
                Enqueue(h, folio);
            }
        }
        if (giveBack && UpdateAndFreeBulk(h, [folio], batched: false) > 0)
            return new HugeTlbResult(HugeTlbError.VmemmapRestoreFailed,
                $"no frames to restore the vmemmap of the folio at pfn 0x{headPfn:x}; it stays in the pool as a free surplus folio");
        return default;
    }

    /// <summary>True when <paramref name="headPfn"/> heads a folio of <paramref name="h"/> that is handed out.</summary>
    public bool IsInUse(Hstate h, ulong headPfn, out string why)
    {
        why = string.Empty;
        if ((headPfn & ((1UL << h.Order) - 1)) != 0 || !_memory.Sparse.PfnValid(headPfn))
        {
            why = $"pfn 0x{headPfn:x} is not the head of a {h.Size.ShortName()} folio";
            return false;
        }
        PageDescriptor* d = _memory.Memmap.Get(headPfn);
        const ulong folioFlags = PageFlags.Head | PageFlags.HugeTlb;
        if ((d->Flags & folioFlags) != folioFlags || CompoundPage.Order(_memory.Memmap, headPfn) != h.Order)
        {
            why = $"pfn 0x{headPfn:x} is not a {h.Size.ShortName()} HugeTLB folio";
            return false;
        }
        if ((d->Private & HugetlbPageFlags.Freed) != 0 || Volatile.Read(ref d->RefCount) <= 0)
        {
            why = $"the folio at pfn 0x{headPfn:x} is in the pool, not handed out";
            return false;
        }
        return true;
    }

    // ------------------------------------------------------------------------------------------ the buddy side

    /// <summary><c>alloc_fresh_hugetlb_folio</c>: a block from the buddy allocator (2 MiB folios may come from
    /// ZONE_MOVABLE; gigantic ones may not: <c>hugepage_movable_supported</c>) made a HugeTLB compound page with its
    /// refcount frozen at 0.</summary>
    private bool TryAllocFresh(Hstate h, out Folio folio)
    {
        folio = default;
        if (!_memory.Buddy.TryAllocate(h.Order, zero: false, out ulong head, movable: h.Order < Order1G)) return false;
        CompoundPage.Prep(_memory.Memmap, head, h.Order, PageFlags.HugeTlb, _memory.Sparse.IsMovable(head));
        _memory.Memmap.GetMutable(head)->RefCount = 0;
        Interlocked.Increment(ref h.FoliosAllocated);
        folio = new Folio(head, h.Order);
        return true;
    }

    /// <summary><c>__update_and_free_hugetlb_folio</c> after the restore: the compound page is taken apart and the
    /// block goes back to the buddy allocator.</summary>
    private void FreeToBuddy(Hstate h, Folio folio)
    {
        CompoundPage.Destroy(_memory.Memmap, folio.HeadPfn, folio.Order, PageFlags.HugeTlb);
        _memory.Buddy.Free(folio.HeadPfn, folio.Order);
        Interlocked.Increment(ref h.FoliosFreed);
    }

    /// <summary><c>enqueue_hugetlb_folio</c>; under the pool lock.</summary>
    private void Enqueue(Hstate h, Folio folio)
    {
        _memory.Memmap.GetMutable(folio.HeadPfn)->Private |= HugetlbPageFlags.Freed;
        h.FreeList.Add(folio.HeadPfn);
        h.FreeHugePages++;
    }

    /// <summary><c>dequeue_hugetlb_folio_node_exact</c>: the most recently freed folio; under the pool lock.</summary>
    private Folio Dequeue(Hstate h)
    {
        ulong head = h.FreeList[^1];
        h.FreeList.RemoveAt(h.FreeList.Count - 1);
        h.FreeHugePages--;
        _memory.Memmap.GetMutable(head)->Private &= ~HugetlbPageFlags.Freed;
        return new Folio(head, h.Order);
    }
}

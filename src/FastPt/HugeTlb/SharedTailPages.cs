using System;
using System.Threading;
using FastPt.Mm;

namespace FastPt.HugeTlb;

/// <summary>The shared-tail design's <c>zone->vmemmap_tails[order]</c>: one page of 64 tail descriptors per zone and
/// folio order, allocated the first time a folio of that order in that zone is optimized, mapped read-only into the
/// vmemmap of every such folio, and kept for the life of the machine (as the kernel keeps it) — except when the
/// optimization that allocated it fails and no other folio took it meanwhile, so a failure changes nothing. It is
/// memmap, so it counts in <c>nr_memmap_pages</c>.</summary>
internal sealed unsafe class SharedTailPages
{
    private const int Zones = 2;
    private const int Orders = BuddyAllocator.Orders;

    private readonly MemoryManager _memory;
    private readonly ulong[] _pages = new ulong[Zones * Orders]; // pfn + 1; 0 = not allocated
    private readonly long[] _users = new long[Zones * Orders];   // folios optimized or being optimized onto it
    private readonly Lock _lock = new();
    private int _count;

    public SharedTailPages(MemoryManager memory) => _memory = memory;

    /// <summary>Tail pages allocated now.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>Takes a use of the tail page of <paramref name="zone"/> and <paramref name="order"/>, allocating and
    /// filling it on first use (<paramref name="allocatedNow"/>). False when no frame is free for it.</summary>
    public bool TryGet(int zone, int order, out ulong pfn, out bool allocatedNow)
    {
        int slot = zone * Orders + order;
        allocatedNow = false;
        lock (_lock)
        {
            if (_pages[slot] == 0)
            {
                if (!_memory.Buddy.TryAllocate(0, zero: false, out pfn)) return false;
                var tail = new PageDescriptor { Flags = zone == 1 ? PageFlags.ZoneMovable : 0, LruNext = Memmap.TailMask(order) };
                new Span<PageDescriptor>(_memory.Physical.WritePointer(pfn << Geometry.Paging.PageShift), CompoundPage.DescriptorsPerPage).Fill(tail);
                Vmstat.Add(ref _memory.Stat.MemmapPages, 1);
                Vmstat.Add(ref _memory.Stat.MemmapFrames, 1);
                Interlocked.Increment(ref _count);
                _pages[slot] = pfn + 1;
                allocatedNow = true;
            }
            pfn = _pages[slot] - 1;
            _users[slot]++;
            return true;
        }
    }

    /// <summary>Gives back a use (a folio restored, or an optimization that failed). The page stays, unless
    /// <paramref name="allocatedNow"/> says the failed optimization allocated it and nobody else uses it: then it is
    /// freed through <paramref name="gather"/>, after the flush and grace period that follow its last mapping.</summary>
    public void Release(int zone, int order, bool allocatedNow, MmuGatherCore? gather)
    {
        int slot = zone * Orders + order;
        lock (_lock)
        {
            if (--_users[slot] != 0 || !allocatedNow || gather is null) return;
            ulong pfn = _pages[slot] - 1;
            _pages[slot] = 0;
            Vmstat.Add(ref _memory.Stat.MemmapPages, -1);
            Vmstat.Add(ref _memory.Stat.MemmapFrames, -1);
            Interlocked.Decrement(ref _count);
            gather.RemovePages(pfn, 0);
        }
    }

    /// <summary>The tail page of <paramref name="zone"/> and <paramref name="order"/>, which an optimized folio
    /// proves exists.</summary>
    public ulong Existing(int zone, int order)
    {
        lock (_lock)
        {
            ulong published = _pages[zone * Orders + order];
            if (published == 0) throw new InvalidOperationException($"BUG: no shared tail page for zone {zone} order {order}");
            return published - 1;
        }
    }
}

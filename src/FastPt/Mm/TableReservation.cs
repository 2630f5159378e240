using System;
using FastPt.Geometry;

namespace FastPt.Mm;

/// <summary>The page tables an operation's commit pass will need, reserved before it starts so that the commit
/// cannot fail: upper-level tables as single frames from the buddy allocator, PTE tables as fragments from the
/// address space's cursor (the kernel's PTE tables are single frames). One per address space, used under its
/// page-table lock; it allocates nothing once its array has grown.</summary>
internal sealed class TableReservation
{
    private readonly MmStruct _mm;
    private ulong[] _upper = new ulong[64];
    private int _upperCount, _upperUsed;
    private int _pteCount, _pteUsed;

    public TableReservation(MmStruct mm) => _mm = mm;

    private bool UsesFragments => !_mm.IsKernel;

    /// <summary>Tables taken so far.</summary>
    public int Used => _upperUsed + _pteUsed;

    /// <summary>Tables reserved.</summary>
    public int Count => _upperCount + _pteCount;

    /// <summary>Reserves <paramref name="upperTables"/> tables above the PTE level and <paramref name="pteTables"/>
    /// PTE tables; all or nothing (a refusal leaves the allocator and the cursor as they were).</summary>
    public bool TryReserve(long upperTables, long pteTables, ulong va, out PagingResult failure)
    {
        failure = default;
        if (_upperCount + _pteCount != 0) throw new InvalidOperationException("a table reservation is already open");
        if (!UsesFragments)
        {
            upperTables += pteTables;
            pteTables = 0;
        }
        int upper = checked((int)upperTables), pte = checked((int)pteTables);
        MemoryManager memory = _mm.Memory;
        if (upper > _upper.Length) _upper = new ulong[Math.Max(upper, _upper.Length * 2)];
        if (upper > 0 && !memory.Buddy.TryAllocateBulk(_upper.AsSpan(0, upper), zero: true))
        {
            failure = OutOfFrames(va, upper + pte, memory);
            return false;
        }
        if (!memory.Fragments.TryReserve(_mm, pte))
        {
            for (int i = 0; i < upper; i++) memory.Buddy.Free(_upper[i], 0);
            failure = OutOfFrames(va, upper + pte, memory);
            return false;
        }
        _upperCount = upper;
        _pteCount = pte;
        _upperUsed = 0;
        _pteUsed = 0;
        return true;
    }

    private static PagingResult OutOfFrames(ulong va, int tables, MemoryManager memory) =>
        new(PagingError.OutOfFrames, new VirtAddr(va), null, $"{tables} page-table pages needed, {memory.Buddy.FreePages} frames free");

    /// <summary>A constructed, zeroed table for <paramref name="level"/> from the reservation (cannot fail).</summary>
    public ulong Take(int level)
    {
        if (level == Paging.PteLevel && UsesFragments)
        {
            if (_pteUsed == _pteCount) throw new InvalidOperationException("commit took more PTE tables than it reserved");
            _pteUsed++;
            return _mm.Memory.Fragments.Take(_mm);
        }
        if (_upperUsed == _upperCount) throw new InvalidOperationException("commit took more page tables than it reserved");
        ulong pfn = _upper[_upperUsed++];
        _mm.Memory.PageTables.Construct(pfn, level, _mm.Id, _mm.IsKernel);
        return pfn;
    }

    /// <summary>Ends the reservation, giving back what the commit did not take (never constructed or handed out).</summary>
    public void Release()
    {
        MemoryManager memory = _mm.Memory;
        for (int i = _upperUsed; i < _upperCount; i++) memory.Buddy.Free(_upper[i], 0);
        memory.Fragments.Unreserve(_mm, _pteCount - _pteUsed);
        _upperCount = _upperUsed = _pteCount = _pteUsed = 0;
    }
}

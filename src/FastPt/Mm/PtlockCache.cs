using System;
using System.Collections.Generic;
using System.Numerics;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;

namespace FastPt.Mm;

/// <summary>The slab cache allocated page-table locks come from (<c>page_ptl_cachep</c>): 64 records of 64 bytes
/// per frame, frames taken from the buddy allocator when every slab is full and given back as soon as a slab is
/// empty, so an exhausted allocator really makes <c>ptlock_alloc</c> fail and an idle machine holds no slab.</summary>
internal sealed unsafe class PtlockCache
{
    private const int RecordsPerSlab = (int)(Paging.PageSize / 64);

    private readonly BuddyAllocator _buddy;
    private readonly Memmap _memmap;
    private readonly PhysicalMemory _physical;
    private readonly bool _checked;
    private readonly Lock _lock = new();
    // Slab frame -> bitmap of free records (bit i set: record i free).
    private readonly Dictionary<ulong, ulong> _slabs = new();
    // Slabs with at least one free record.
    private readonly HashSet<ulong> _partial = new();
    private long _retiredAcquisitions, _retiredHoldTicks, _maxHoldTicks;

    public PtlockCache(BuddyAllocator buddy, Memmap memmap, PhysicalMemory physical, bool checkedMode)
    {
        _buddy = buddy;
        _memmap = memmap;
        _physical = physical;
        _checked = checkedMode;
    }

    /// <summary>Frames holding lock records now.</summary>
    public int SlabPages
    {
        get { lock (_lock) return _slabs.Count; }
    }

    /// <summary>A record for the table at <paramref name="tablePfn"/>, or false when no slab has room and no frame
    /// is free (<c>kmem_cache_alloc</c> failing).</summary>
    public bool TryAllocate(ulong tablePfn, out ulong recordPa)
    {
        lock (_lock)
        {
            ulong slab;
            if (_partial.Count > 0)
            {
                using HashSet<ulong>.Enumerator e = _partial.GetEnumerator();
                e.MoveNext();
                slab = e.Current;
            }
            else
            {
                if (!_buddy.TryAllocate(0, zero: true, out slab))
                {
                    recordPa = 0;
                    return false;
                }
                _memmap.GetMutable(slab)->Flags |= PageFlags.Slab;
                _slabs.Add(slab, ulong.MaxValue);
                _partial.Add(slab);
            }
            ulong free = _slabs[slab];
            int index = BitOperations.TrailingZeroCount(free);
            free &= ~(1UL << index);
            _slabs[slab] = free;
            if (free == 0) _partial.Remove(slab);
            recordPa = (slab << Paging.PageShift) + (ulong)index * 64;
        }
        PtlockRecord* record = Record(recordPa);
        *record = default;
        record->TablePfnPlusOne = tablePfn + 1;
        return true;
    }

    /// <summary>Returns a record (<c>kmem_cache_free</c>), keeping its statistics in the machine's totals, and gives
    /// the slab's frame back once all its records are free.</summary>
    public void Free(ulong recordPa, ulong tablePfn)
    {
        PtlockRecord* record = Record(recordPa);
        if (record->TablePfnPlusOne != tablePfn + 1)
            throw new InvalidOperationException($"ptlock_free: the lock at 0x{recordPa:x} does not belong to table pfn 0x{tablePfn:x}");
        if (record->Lock.IsHeld)
            throw new InvalidOperationException($"ptlock_free: the lock of table pfn 0x{tablePfn:x} is still held by thread {record->Owner}");
        ulong slab = recordPa >> Paging.PageShift;
        int index = (int)((recordPa & (Paging.PageSize - 1)) / 64);
        lock (_lock)
        {
            _retiredAcquisitions += record->Acquisitions;
            _retiredHoldTicks += record->HoldTicks;
            _maxHoldTicks = Math.Max(_maxHoldTicks, record->MaxHoldTicks);
            // A freed record is poisoned in checked mode (as slab debugging does), else cleared: a stale handle
            // then fails the owner-table comparison.
            System.Runtime.InteropServices.NativeMemory.Fill(record, 64, _checked ? (byte)0x6b : (byte)0);
            ulong free = _slabs[slab] | (1UL << index);
            if (free == ulong.MaxValue)
            {
                _slabs.Remove(slab);
                _partial.Remove(slab);
                _memmap.GetMutable(slab)->Flags &= ~PageFlags.Slab;
                _buddy.Free(slab, 0);
                return;
            }
            _slabs[slab] = free;
            _partial.Add(slab);
        }
    }

    /// <summary>The record at <paramref name="recordPa"/> if it belongs to <paramref name="tablePfn"/>, else null
    /// (a stale handle: the lock was freed).</summary>
    public PtlockRecord* Get(ulong recordPa, ulong tablePfn)
    {
        PtlockRecord* record = Record(recordPa);
        return record->TablePfnPlusOne == tablePfn + 1 ? record : null;
    }

    private PtlockRecord* Record(ulong recordPa) => (PtlockRecord*)_physical.WritePointer(recordPa);

    /// <summary>Statistics of every lock, live and freed.</summary>
    public (long Acquisitions, long HoldTicks, long MaxHoldTicks) Statistics()
    {
        lock (_lock)
        {
            long acquisitions = _retiredAcquisitions, hold = _retiredHoldTicks, max = _maxHoldTicks;
            foreach ((ulong slab, ulong free) in _slabs)
            {
                for (int i = 0; i < RecordsPerSlab; i++)
                {
                    if ((free & (1UL << i)) != 0) continue;
                    PtlockRecord* r = Record((slab << Paging.PageShift) + (ulong)i * 64);
                    acquisitions += Volatile.Read(ref r->Acquisitions);
                    hold += Volatile.Read(ref r->HoldTicks);
                    max = Math.Max(max, Volatile.Read(ref r->MaxHoldTicks));
                }
            }
            return (acquisitions, hold, max);
        }
    }
}

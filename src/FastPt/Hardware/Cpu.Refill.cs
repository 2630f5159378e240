using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Hardware;

// TLB refill: the common miss finished from a paging-structure cache in a few loads, and the fills of the 4 KiB
// and 2 MiB TLBs after a walk.
internal unsafe partial struct Cpu<TFrames>
{
    /// <summary>The common miss, done in a few loads: a paging-structure cache holds the table above the leaf,
    /// and the leaf needs no Accessed or Dirty update. Anything unusual (a hole, a fault, a bit to set, checked
    /// mode) returns false and the general path handles it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryRefill(ulong v, AccessKind access, out ulong physPage)
    {
        physPage = 0;
        if (v > _userLast || _checked) return false;
        ulong tablePa;
        int rights;
        int level;
        if (_tlb.TryPteTable(v, out tablePa, out rights)) level = Paging.PteLevel;
        else if (_tlb.TryPmdTable(v, out tablePa, out rights)) level = Paging.PmdLevel;
        else return false;
        int cachedLevel = level;
        ulong* slot = (ulong*)_physical.ReadPointer(tablePa + (ulong)(Paging.Index(level, v) * 8));
        ulong entry = Volatile.Read(ref *slot);
        if (level == Paging.PmdLevel && (entry & (PageTableEntry.Huge | PageTableEntry.Present | PageTableEntry.Accessed)) == (PageTableEntry.Present | PageTableEntry.Accessed))
        {
            // The PMD entry points to a PTE table: one more load, and remember the table.
            rights = Rights.Combine(rights, entry);
            tablePa = PageTableEntry.TableAddress(entry);
            if (tablePa >= _physical.MaxPhysicalAddress) return false;
            ulong* pmdSlot = slot;
            ulong pmdEntry = entry;
            level = Paging.PteLevel;
            slot = (ulong*)_physical.ReadPointer(tablePa + (ulong)(Paging.Index(level, v) * 8));
            entry = Volatile.Read(ref *slot);
            // pmd_same: the table may have been unlinked (collapsed, reclaimed) between the two loads; then the
            // general path walks what the PMD holds now, and the table is not cached.
            if (Volatile.Read(ref *pmdSlot) != pmdEntry) return false;
            _tlb.CachePteTable(v, tablePa, rights);
        }
        else if (level == Paging.PmdLevel && (entry & PageTableEntry.Huge) == 0)
        {
            return false;
        }
        ulong needed = PageTableEntry.Present | PageTableEntry.Accessed | (access == AccessKind.Write ? PageTableEntry.Dirty : 0);
        if ((entry & needed) != needed) return false;
        rights = Rights.Combine(rights, entry);
        if (!Rights.Allows(rights, access, user: true)) return false;
        ulong leafSize = Paging.LevelSize(level);
        ulong pa = PageTableEntry.LeafAddress(entry, level) | (v & (leafSize - 1));
        if (pa >= _physical.MaxPhysicalAddress || !_frames.IsPresent(pa >> Paging.PageShift)) return false;
        if (cachedLevel == Paging.PteLevel) _counters.PmdCacheHits++; else _counters.PudCacheHits++;
        _counters.Misses++;
        physPage = pa & Paging.PageMask;
        if (level > Paging.PteLevel) FillHuge(v, pa, entry, level, rights, global: false, materialize: false, (byte*)slot);
        else Fill(v, physPage, entry, level, rights, global: false, materialize: false, (byte*)slot);
        return true;
    }

    private Hit FillEntry(ulong v, in WalkResult walk, bool global, bool materialize)
    {
        byte* leafEntryHost = _physical.ReadPointer(walk.TablePa + (ulong)(Paging.Index(walk.Level, v) * 8));
        if (walk.Level > Paging.PteLevel)
            return HugeHitAt(v, FillHuge(v, walk.PhysAddr, walk.Entry, walk.Level, walk.Rights, global, materialize, leafEntryHost));
        return HitAt(v, Fill(v, walk.PhysAddr & Paging.PageMask, walk.Entry, walk.Level, walk.Rights, global, materialize, leafEntryHost));
    }

    /// <summary>Caches the 2 MiB piece of a huge leaf that holds <paramref name="v"/> in the large-page TLB.</summary>
    private int FillHuge(ulong v, ulong pa, ulong leaf, int level, int rights, bool global, bool materialize, byte* leafEntryHost)
    {
        ulong region = v & ~SoftTlb.HugeMask;
        ulong physRegion = pa & ~SoftTlb.HugeMask;
        ulong tag = _tlb.HitTag(region, global) | (_checked ? SoftTlb.WatchBit : 0);
        bool user = !global;
        bool writeHit = (leaf & PageTableEntry.Dirty) != 0 && Rights.Allows(rights, AccessKind.Write, user);
        // A write through the addend may land in any frame of the 2 MiB piece: all of them are marked written.
        byte* host = materialize || writeHit ? _physical.WritePointer(physRegion, Paging.PmdSize) : _physical.ReadPointer(physRegion);
        ulong leafSize = Paging.LevelSize(level);
        return _tlb.WriteHuge(region,
            Rights.Allows(rights, AccessKind.Read, user) ? tag : tag | SoftTlb.InvalidBit,
            !Rights.Allows(rights, AccessKind.Write, user) ? tag | SoftTlb.InvalidBit : writeHit ? tag : tag | SoftTlb.NotDirtyBit,
            Rights.Allows(rights, AccessKind.Execute, user) ? tag : tag | SoftTlb.InvalidBit,
            (long)host - (long)region,
            physRegion,
            TlbDetail.Pack(region, level, PageTableEntry.ProtectionOf(leaf), global),
            (nint)leafEntryHost, v & ~(leafSize - 1), leafSize);
    }

    /// <summary>Writes the TLB entry for <paramref name="v"/> in place and returns its slot.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Fill(ulong v, ulong physPage, ulong leaf, int level, int rights, bool global, bool materialize, byte* leafEntryHost)
    {
        ulong page = v & Paging.PageMask;
        // Checked mode watches every access: the watch bit makes every fast-path compare fail, so each hit goes
        // through the slow path, which verifies the frame.
        ulong tag = _tlb.HitTag(page, global) | (_checked ? SoftTlb.WatchBit : 0);
        bool user = !global;
        bool writeHit = (leaf & PageTableEntry.Dirty) != 0 && Rights.Allows(rights, AccessKind.Write, user);
        // A write through the entry's host addend must be accounted as a write to the frame's chunk.
        byte* host = materialize || writeHit ? _physical.WritePointer(physPage) : _physical.ReadPointer(physPage);
        ulong leafSize = Paging.LevelSize(level);
        int slot = _tlb.Claim(page, v & ~(leafSize - 1), leafSize);
        _tlb.Write(slot,
            Rights.Allows(rights, AccessKind.Read, user) ? tag : tag | SoftTlb.InvalidBit,
            // The first write through a clean leaf must take the slow path: it sets D.
            !Rights.Allows(rights, AccessKind.Write, user) ? tag | SoftTlb.InvalidBit : writeHit ? tag : tag | SoftTlb.NotDirtyBit,
            Rights.Allows(rights, AccessKind.Execute, user) ? tag : tag | SoftTlb.InvalidBit,
            (long)host - (long)page,
            physPage,
            TlbDetail.Pack(page, level, PageTableEntry.ProtectionOf(leaf), global),
            (nint)leafEntryHost);
        return slot;
    }
}

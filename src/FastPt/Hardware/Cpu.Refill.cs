using System.Runtime.CompilerServices;
using System.Threading;
using FastPt.Geometry;

namespace FastPt.Hardware;

// TLB refill: the common misses finished from a paging-structure cache in one load (PTE table cached) or two (PMD
// table cached), each level a constant, and the fills of the 4 KiB and 2 MiB TLBs after a walk.
internal unsafe partial struct Cpu<TFrames>
{
    /// <summary>The common miss, done in a few loads with every level a constant: the PMD-level paging-structure
    /// cache holds the PTE table (one load), or the PUD-level one holds the PMD table (two), and the leaf needs no
    /// Accessed or Dirty update. Anything unusual (a hole, a fault, a bit to set, a frame that is not present
    /// memory) returns false and the general path handles it. The caller has checked the flush generation, the
    /// address (at most the last user address) and that checked mode is off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryRefill(ulong v, AccessKind access, out ulong physPage)
    {
        physPage = 0;
        ulong* slot;
        ulong entry;
        bool fromPteTable = _tlb.TryPteTable(v, out ulong tablePa, out int rights);
        if (fromPteTable)
        {
            slot = (ulong*)_physical.ReadPointer(tablePa) + Paging.Index(Paging.PteLevel, v);
            entry = Volatile.Read(ref *slot);
        }
        else if (!_tlb.TryPmdTable(v, out tablePa, out rights))
        {
            return false;
        }
        else if (!TryPteFromPmdTable(v, access, tablePa, ref rights, out slot, out entry, out bool hugeFilled, out physPage))
        {
            return hugeFilled;
        }
        // One fill for both (inlined once: the method stays small).
        if (!TryFillPte(v, access, entry, rights, slot, out physPage)) return false;
        if (fromPteTable) _counters.PmdCacheHits++;
        else _counters.PudCacheHits++;
        return true;
    }

    /// <summary>A cached PMD table: loads the PMD entry, then the PTE (and caches its table for the next miss). A 2
    /// MiB leaf there is filled into the large-page TLB at once: false, with <paramref name="hugeFilled"/> true and
    /// <paramref name="physPage"/> set when that succeeded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryPteFromPmdTable(ulong v, AccessKind access, ulong pmdTable, ref int rights, out ulong* slot, out ulong entry,
        out bool hugeFilled, out ulong physPage)
    {
        physPage = 0;
        hugeFilled = false;
        slot = null;
        entry = 0;
        ulong* pmdSlot = (ulong*)_physical.ReadPointer(pmdTable) + Paging.Index(Paging.PmdLevel, v);
        ulong pmd = Volatile.Read(ref *pmdSlot);
        if ((pmd & (PageTableEntry.Huge | PageTableEntry.Present | PageTableEntry.Accessed)) != (PageTableEntry.Present | PageTableEntry.Accessed))
        {
            if ((pmd & PageTableEntry.Huge) != 0) hugeFilled = TryFillPmdLeaf(v, access, pmd, rights, pmdSlot, out physPage);
            return false;
        }
        rights = Rights.Combine(rights, pmd);
        ulong pteTable = PageTableEntry.TableAddress(pmd);
        if (pteTable >= _physical.MaxPhysicalAddress) return false;
        slot = (ulong*)_physical.ReadPointer(pteTable) + Paging.Index(Paging.PteLevel, v);
        entry = Volatile.Read(ref *slot);
        // pmd_same: the table may have been unlinked (collapsed, reclaimed) between the two loads; then the general
        // path walks what the PMD holds now, and the table is not cached.
        if (Volatile.Read(ref *pmdSlot) != pmd) return false;
        _tlb.CachePteTable(v, pteTable, rights);
        return true;
    }

    /// <summary>Checks a PTE loaded by a refill and fills the 4 KiB TLB from it: level 1, a user entry, no watch
    /// bit (checked mode never refills here), nothing materialized.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool TryFillPte(ulong v, AccessKind access, ulong entry, int rights, ulong* slot, out ulong physPage)
    {
        physPage = 0;
        ulong needed = PageTableEntry.Present | PageTableEntry.Accessed | (access == AccessKind.Write ? PageTableEntry.Dirty : 0);
        if ((entry & needed) != needed) return false;
        rights = Rights.Combine(rights, entry);
        if (!Rights.Allows(rights, access, user: true)) return false;
        ulong page = PageTableEntry.LeafAddress(entry, Paging.PteLevel);
        // A mapping may point at a hole or at hot-removed memory: one load of the section's subsection map. A
        // present frame lies below MaxPhysicalAddress, a multiple of the section size (MachineOptions checks it).
        if (!_frames.IsPresent(page >> Paging.PageShift)) return false;
        _counters.Misses++;
        physPage = page;
        Fill(v, page, entry, Paging.PteLevel, rights, global: false, materialize: false, watch: false, (byte*)slot);
        return true;
    }

    /// <summary>A 2 MiB leaf found in a cached PMD table: fills the large-page TLB (rare next to 4 KiB misses:
    /// not inlined).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private bool TryFillPmdLeaf(ulong v, AccessKind access, ulong entry, int rights, ulong* slot, out ulong physPage)
    {
        physPage = 0;
        ulong needed = PageTableEntry.Present | PageTableEntry.Accessed | (access == AccessKind.Write ? PageTableEntry.Dirty : 0);
        if ((entry & needed) != needed) return false;
        rights = Rights.Combine(rights, entry);
        if (!Rights.Allows(rights, access, user: true)) return false;
        ulong pa = PageTableEntry.LeafAddress(entry, Paging.PmdLevel) | (v & (Paging.PmdSize - 1));
        if (!_frames.IsPresent(pa >> Paging.PageShift)) return false;
        _counters.PudCacheHits++;
        _counters.Misses++;
        physPage = pa & Paging.PageMask;
        FillHuge(v, pa, entry, Paging.PmdLevel, rights, global: false, materialize: false, watch: false, (byte*)slot);
        return true;
    }

    private Hit FillEntry(ulong v, in WalkResult walk, bool global, bool materialize)
    {
        byte* leafEntryHost = _physical.ReadPointer(walk.TablePa + (ulong)(Paging.Index(walk.Level, v) * 8));
        if (walk.Level > Paging.PteLevel)
            return HugeHitAt(v, FillHuge(v, walk.PhysAddr, walk.Entry, walk.Level, walk.Rights, global, materialize, _checked, leafEntryHost));
        return HitAt(v, Fill(v, walk.PhysAddr & Paging.PageMask, walk.Entry, walk.Level, walk.Rights, global, materialize, _checked, leafEntryHost));
    }

    /// <summary>Caches the 2 MiB piece of a huge leaf that holds <paramref name="v"/> in the large-page TLB.</summary>
    private int FillHuge(ulong v, ulong pa, ulong leaf, int level, int rights, bool global, bool materialize, bool watch, byte* leafEntryHost)
    {
        ulong region = v & ~SoftTlb.HugeMask;
        ulong physRegion = pa & ~SoftTlb.HugeMask;
        ulong tag = _tlb.HitTag(region, global) | (watch ? SoftTlb.WatchBit : 0);
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

    /// <summary>Writes the TLB entry for <paramref name="v"/> in place and returns its slot. <paramref name="watch"/>
    /// is checked mode (a constant false on the refill path, which checked mode never takes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Fill(ulong v, ulong physPage, ulong leaf, int level, int rights, bool global, bool materialize, bool watch, byte* leafEntryHost)
    {
        ulong page = v & Paging.PageMask;
        // Checked mode watches every access: the watch bit makes every fast-path compare fail, so each hit goes
        // through the slow path, which verifies the frame.
        ulong tag = _tlb.HitTag(page, global) | (watch ? SoftTlb.WatchBit : 0);
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

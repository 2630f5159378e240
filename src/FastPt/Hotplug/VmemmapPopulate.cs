using System.Runtime.InteropServices;
using System.Threading;
using FastPt.Geometry;
using FastPt.Hardware;
using FastPt.Internals;
using FastPt.Lib;
using FastPt.Mm;

namespace FastPt.Hotplug;

/// <summary>Building and marking the vmemmap of hot-added memory (<c>vmemmap_populate</c>, with x86's handling
/// of partly used 2 MiB blocks). Runs under the hotplug lock and init_mm's page-table lock.</summary>
internal sealed unsafe class Vmemmap
{
    /// <summary>PAGE_UNUSED: the byte that marks unused parts of vmemmap pages and blocks.</summary>
    public const byte PageUnused = 0xFD;

    private readonly MemoryManager _memory;

    /// <summary>Start of the part of the last new, partly used block that is not yet marked unused; the mark is
    /// applied lazily so that consecutive adds can continue the block instead (<c>unused_pmd_start</c>). 0 when
    /// there is none.</summary>
    private ulong _unusedPmdStart;

    public Vmemmap(MemoryManager memory) => _memory = memory;

    public long BytesMarkedUnused;
    public int PartialBlocksFreed;

    /// <summary>Populates the vmemmap of [startVa, endVa). Returns false when memory ran out (the caller then
    /// depopulates the same range, which undoes what was done).</summary>
    public bool Populate(ulong startVa, ulong endVa, Altmap? altmap, bool hugePages, ref long tables, ref long frames)
    {
        MmStruct initMm = _memory.InitMm;
        var ops = new PopulateOps { Vmemmap = this, Memory = _memory, Altmap = altmap, HugePages = hugePages };
        PageWalk.Walk(_memory.Physical, initMm.RootPa, initMm.RootLevel, startVa, endVa, ref ops);
        tables += ops.Tables;
        frames += ops.Frames;
        _memory.SyncKernelTopLevel();
        return !ops.Failed;
    }

    // ---------------------------------------------------------------- partly used 2 MiB blocks (arch/x86/mm/init_64.c)

    /// <summary>Marks the pending unused tail of the last new block (<c>vmemmap_flush_unused_pmd</c>).</summary>
    public void FlushUnusedPmd()
    {
        if (_unusedPmdStart == 0) return;
        ulong end = Paging.AlignUp(_unusedPmdStart, Paging.PmdSize);
        Mark(_unusedPmdStart, end, PageUnused);
        _unusedPmdStart = 0;
    }

    /// <summary>A new block of which only [start, end) is used (<c>vmemmap_use_new_sub_pmd</c>): mark the unused
    /// head from the aligned-down block start (the kernel once marked from <c>start</c>, which left the head
    /// looking used) and remember the unused tail instead of marking it.</summary>
    private void UseNewSubPmd(ulong start, ulong end)
    {
        FlushUnusedPmd();
        ulong blockStart = Paging.AlignDown(start, Paging.PmdSize);
        if (start != blockStart) Mark(blockStart, start, PageUnused);
        if (!Paging.IsAligned(end, Paging.PmdShift)) _unusedPmdStart = end;
    }

    /// <summary>An existing block gets [start, end) back in use (<c>vmemmap_use_sub_pmd</c>). When the range
    /// directly follows the pending unused tail, the tail just shrinks (the usual case when consecutive sections
    /// or subsections are added). Otherwise the range is cleared: the kernel clears one struct page because onlining
    /// initialises the rest, but here an all-zero descriptor is the initialised state, so the whole range is
    /// zeroed (it may hold 0xFD from an earlier removal).</summary>
    private void UseSubPmd(ulong start, ulong end)
    {
        if (_unusedPmdStart == start)
        {
            _unusedPmdStart = Paging.IsAligned(end, Paging.PmdShift) ? 0 : end;
            return;
        }
        FlushUnusedPmd();
        Mark(start, end, 0);
    }

    /// <summary>The range [start, end) of a leaf mapping no longer describes memory (<c>vmemmap_pmd_is_unused</c>
    /// and its 4 KiB twin): mark it, then scan the whole leaf with <c>memchr_inv</c>. True when the entire leaf
    /// is unused and can be freed.</summary>
    public bool UnusePartial(ulong start, ulong end, ulong leafSize, ulong leafPa)
    {
        FlushUnusedPmd();
        Mark(start, end, PageUnused);
        byte* leaf = _memory.Physical.ReadPointer(leafPa);
        return MemchrInv.IndexOfNot(leaf, (nuint)leafSize, PageUnused) < 0;
    }

    /// <summary>Fills vmemmap [start, end) (inside one leaf) with <paramref name="value"/> through the kernel mapping.</summary>
    private void Mark(ulong start, ulong end, byte value)
    {
        if (end <= start) return;
        byte* p = _memory.Memmap.KernelPointer(start, write: true);
        NativeMemory.Fill(p, (nuint)(end - start), value);
        if (value == PageUnused) BytesMarkedUnused += (long)(end - start);
    }

    // ---------------------------------------------------------------- the populate walk

    private struct PopulateOps : IPageWalkOps
    {
        public Vmemmap Vmemmap;
        public MemoryManager Memory;
        public Altmap? Altmap;
        public bool HugePages;
        public bool Failed;
        public long Tables;
        public long Frames;

        public static bool Mutates => true;

        public WalkAction Entry(int level, ulong* entry, ulong address, ulong next)
        {
            ulong value = *entry;
            if (level == Paging.PmdLevel)
            {
                if (PageTableEntry.IsLeaf(value, level))
                {
                    // Already backed by a block (x86 vmemmap_check_pmd): reuse it.
                    Vmemmap.UseSubPmd(address, next);
                    return WalkAction.Continue;
                }
                if (value == 0 && HugePages)
                {
                    if (TryAllocateBlock(out ulong blockPfn))
                    {
                        Volatile.Write(ref *entry, (blockPfn << Paging.PageShift) | PageTableEntry.KernelData | PageTableEntry.Huge);
                        Memory.InitMm.Leaves[2]++;
                        Frames += 512;
                        if (next - address != Paging.PmdSize) Vmemmap.UseNewSubPmd(address, next);
                        return WalkAction.Continue;
                    }
                    if (Altmap is not null) return Fail(); // no fallback from an altmap
                }
            }
            if (value != 0)
            {
                if (PageTableEntry.IsLeaf(value, level))
                    ThrowHelper.ThrowUnexpectedLeaf("vmemmap populate", level, address);
                return WalkAction.Descend;
            }
            // A missing table (vmemmap_p?d_populate).
            if (!TryAllocatePage(out ulong tablePfn)) return Fail();
            Memory.PageTables.Construct(tablePfn, level - 1, Memory.InitMm.Id, kernel: true);
            Memory.InitMm.Tables[level - 1]++;
            Tables++;
            Volatile.Write(ref *entry, (tablePfn << Paging.PageShift) | PageTableEntry.KernelTable);
            return WalkAction.Descend;
        }

        public WalkAction PteRange(ulong* ptes, ulong address, ulong end)
        {
            for (ulong a = address; a < end; a += Paging.PageSize, ptes++)
            {
                if (*ptes != 0) continue; // shared with memmap already present (non-64-byte descriptors)
                if (!TryAllocatePage(out ulong pfn)) return Fail();
                Volatile.Write(ref *ptes, (pfn << Paging.PageShift) | PageTableEntry.KernelData);
                Memory.InitMm.Leaves[1]++;
                Frames++;
            }
            return WalkAction.Continue;
        }

        public WalkAction AfterTable(int level, ulong* entry, ulong address, ulong next) => WalkAction.Continue;

        private WalkAction Fail()
        {
            Failed = true;
            return WalkAction.Stop;
        }

        private bool TryAllocateBlock(out ulong pfn)
        {
            if (Altmap is not null)
            {
                if (!Altmap.TryAllocate(512, out pfn)) return false;
                // Altmap frames were never handed to the buddy allocator: their contents are whatever the range
                // held, so clear the block (the vmemmap must start out as valid, all-zero descriptors).
                Memory.Physical.Fill(pfn << Paging.PageShift, Paging.PmdSize, 0);
                return true;
            }
            return Memory.Buddy.TryAllocate(9, zero: true, out pfn);
        }

        private bool TryAllocatePage(out ulong pfn) => Memory.Buddy.TryAllocate(0, zero: true, out pfn);
    }
}

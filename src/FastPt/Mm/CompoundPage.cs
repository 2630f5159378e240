using System;
using FastPt.Geometry;

namespace FastPt.Mm;

/// <summary>Building and taking apart compound pages (<c>prep_compound_page</c>, <c>prep_compound_tail</c>,
/// <c>destroy_compound_gigantic_folio</c>): the head keeps its flags plus PG_head, every tail gets the same
/// descriptor (its zone and its <c>compound_info</c>), and the first tail records the order. Descriptors are written
/// a vmemmap page (64 descriptors) at a time, through one kernel translation each.</summary>
internal static unsafe class CompoundPage
{
    /// <summary>Descriptors in one page of the vmemmap.</summary>
    public const int DescriptorsPerPage = (int)(Paging.PageSize / KernelLayout.DescriptorSize);

    /// <summary>Makes the allocated block of <paramref name="order"/> at <paramref name="headPfn"/> a compound page
    /// whose head also gets <paramref name="headFlags"/> (PG_hugetlb for a HugeTLB folio).</summary>
    public static void Prep(Memmap memmap, ulong headPfn, int order, ulong headFlags, bool movableZone)
    {
        if (order < 1) throw new ArgumentOutOfRangeException(nameof(order), "a compound page has at least two pages");
        ulong zone = movableZone ? PageFlags.ZoneMovable : 0;
        PageDescriptor tail = default;
        tail.Flags = zone;
        tail.LruNext = memmap.TailInfo(headPfn, order);
        ulong end = headPfn + (1UL << order);
        for (ulong group = headPfn; group < end; group = NextGroup(group, end))
        {
            PageDescriptor* d = memmap.GetMutable(group);
            for (ulong pfn = group; pfn < NextGroup(group, end); pfn++, d++)
            {
                if (pfn == headPfn) continue;
                *d = tail;
            }
        }
        memmap.GetMutable(headPfn + 1)->RcuFunc = (ulong)order; // folio order, in the first tail
        PageDescriptor* head = memmap.GetMutable(headPfn);
        head->Flags = (head->Flags & ~(PageFlags.ZoneMovable)) | PageFlags.Head | headFlags | zone;
        head->Private = 0;
    }

    /// <summary>Takes the compound page apart before its block goes back to the allocator: every tail descriptor
    /// becomes all zero (the untouched state of a frame inside a free block) and the head loses PG_head,
    /// <paramref name="headFlags"/> and its HugeTLB flags.</summary>
    public static void Destroy(Memmap memmap, ulong headPfn, int order, ulong headFlags)
    {
        ulong end = headPfn + (1UL << order);
        for (ulong group = headPfn; group < end; group = NextGroup(group, end))
        {
            PageDescriptor* d = memmap.GetMutable(group);
            ulong groupEnd = NextGroup(group, end);
            if (group != headPfn)
            {
                new Span<byte>(d, (int)((groupEnd - group) * KernelLayout.DescriptorSize)).Clear();
                continue;
            }
            for (ulong pfn = group + 1; pfn < groupEnd; pfn++) d[pfn - group] = default;
        }
        PageDescriptor* head = memmap.GetMutable(headPfn);
        head->Flags &= ~(PageFlags.Head | PageFlags.ZoneMovable | headFlags);
        head->Private = 0;
    }

    /// <summary>The order of the compound page headed by <paramref name="headPfn"/> (<c>folio_order</c>).</summary>
    public static int Order(Memmap memmap, ulong headPfn) => (int)memmap.Get(headPfn + 1)->RcuFunc;

    /// <summary>The first frame of the next group of descriptors sharing a vmemmap page, capped at
    /// <paramref name="end"/>.</summary>
    private static ulong NextGroup(ulong pfn, ulong end) =>
        Math.Min(end, (pfn | (DescriptorsPerPage - 1)) + 1);
}

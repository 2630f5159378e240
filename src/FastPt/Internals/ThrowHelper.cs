using System;
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;

namespace FastPt.Internals;

/// <summary>Every throw of the engine's hot and small methods, kept out of them (Sep's <c>SepThrow</c>): a method
/// with an inline <c>throw new</c> carries the exception's construction and, for a formatted message, the whole
/// formatting, which keeps the JIT from inlining it. The messages are built here, from the values.</summary>
[StackTraceHidden]
internal static class ThrowHelper
{
    // ---------------------------------------------------------------- results the caller asked to throw

    [DoesNotReturn]
    public static void ThrowPageFault(PageFault fault) => throw new PageFaultException(fault);

    [DoesNotReturn]
    public static void ThrowPaging(in PagingResult result) => throw new PagingException(result);

    [DoesNotReturn]
    public static void ThrowNoFreeBlock(ulong size) =>
        throw new OutOfFramesException($"The simulated machine has no free block of {size} bytes.");

    // ---------------------------------------------------------------- misuse

    [DoesNotReturn]
    public static void ThrowObjectDisposed(string name) => throw new ObjectDisposedException(name);

    [DoesNotReturn]
    public static void ThrowContextDisposed() => throw new ObjectDisposedException(nameof(MmuContext));

    [DoesNotReturn]
    public static void ThrowAddressSpaceDisposed() => throw new ObjectDisposedException(nameof(AddressSpace));

    [DoesNotReturn]
    public static void ThrowMachineDisposed() => throw new ObjectDisposedException(nameof(Machine));

    [DoesNotReturn]
    public static void ThrowGatherFinished() => throw new ObjectDisposedException(nameof(MmuGather), "The gather has finished.");

    [DoesNotReturn]
    public static void ThrowGatherInUse() => throw new InvalidOperationException("gather already in use");

    [DoesNotReturn]
    public static void ThrowGatherOfAnotherSpace() => throw new ArgumentException("The gather belongs to another address space.");

    [DoesNotReturn]
    public static void ThrowImplicitContextSwitch() =>
        throw new InvalidOperationException("The per-thread context of an address space cannot switch; create one with CreateContext.");

    [DoesNotReturn]
    public static void ThrowArgument(string message, string paramName) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName) => throw new ArgumentOutOfRangeException(paramName);

    [DoesNotReturn]
    public static void ThrowArgumentOutOfRange(string paramName, string message) => throw new ArgumentOutOfRangeException(paramName, message);

    [DoesNotReturn]
    public static void ThrowBitmapTooSmall(ulong pages, string paramName) =>
        throw new ArgumentException($"The bitmap needs {(pages + 63) / 64} words for {pages} pages.", paramName);

    [DoesNotReturn]
    public static void ThrowNotPresentMemory(PhysAddr pa, ulong length, string paramName) =>
        throw new ArgumentOutOfRangeException(paramName, $"{pa}+0x{length:x} is not present memory.");

    [DoesNotReturn]
    public static void ThrowBadFree(ulong pfn, int order) => throw new ArgumentException($"bad free of pfn 0x{pfn:x} order {order}");

    [DoesNotReturn]
    public static void ThrowDoubleFree(ulong pfn) =>
        throw new InvalidOperationException($"bad free of pfn 0x{pfn:x}: the frame is not allocated (double free?)");

    [DoesNotReturn]
    public static void ThrowNotReserved(ulong pfn) => throw new InvalidOperationException($"pfn 0x{pfn:x} is not reserved memory");

    // ---------------------------------------------------------------- broken invariants (bugs, never expected)

    [DoesNotReturn]
    public static void ThrowInvariant(string message) => throw new InvalidOperationException(message);

    [DoesNotReturn]
    public static void ThrowPoolMismatch(int used, int counted) =>
        throw new InvalidOperationException($"map used {used} of {counted} counted tables");

    [DoesNotReturn]
    public static void ThrowNotATable(ulong pfn) =>
        throw new InvalidOperationException($"destructor on pfn 0x{pfn:x} which is not a page table");

    [DoesNotReturn]
    public static void ThrowTableLevelMismatch(ulong pfn, int recorded, int level) =>
        throw new InvalidOperationException($"table pfn 0x{pfn:x} is level {recorded}, freed as level {level}");

    [DoesNotReturn]
    public static void ThrowUnexpectedLeaf(string walk, int level, ulong address) =>
        throw new InvalidOperationException($"{walk} met a level-{level} leaf at 0x{address:x}");

    [DoesNotReturn]
    public static void ThrowAltmapNotEmpty(ulong allocated) =>
        throw new InvalidOperationException($"altmap still holds {allocated} frames after removal");

    // ---------------------------------------------------------------- checked mode

    /// <summary>The report of a walk that reached freed page-table page <paramref name="tablePa"/> (checked mode):
    /// its level <paramref name="level"/> entry holds the free poison.</summary>
    public static UseAfterFreeException UseAfterFree(ulong va, ulong tablePa, int level, ulong entry) => new(
        $"checked mode: translating 0x{va:x16} reached freed page-table page 0x{tablePa:x} " +
        $"(level {level} entry holds the free poison 0x{entry:x16})",
        new VirtAddr(va), new PhysAddr(tablePa));

    /// <summary>Checked mode: context <paramref name="context"/> translated <paramref name="va"/> to a freed frame.</summary>
    [DoesNotReturn]
    public static void ThrowUseAfterFreeFrame(int context, ulong va, ulong physPage) => throw new UseAfterFreeException(
        $"checked mode: context {context} translated 0x{va:x16} to freed frame 0x{physPage:x} (a TLB entry outlived the free: free before flush?)",
        new VirtAddr(va), new PhysAddr(physPage));
}

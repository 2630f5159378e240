using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;

namespace FastPt.Diagnostics;

/// <summary>The payload writers: one per payload shape, out of line so that the event methods stay small enough
/// to inline into hot paths. Each passes its fields to <c>WriteEventCore</c> through stack-allocated
/// <see cref="EventSource.EventData"/> descriptors (the <c>params object[]</c> overload would box every field).
/// Field order and sizes must match the event method's parameters: 8 bytes for <c>long</c>/<c>ulong</c>, 4 for
/// <c>int</c>, enums over <c>int</c> and <c>bool</c> (which EventSource writes as a 32-bit BOOL).</summary>
public sealed partial class FastPtEventSource
{
    // WriteEventCore is marked as needing unreferenced code because a payload might be an object graph; every
    // field written here is a primitive, which the trimmer cannot take away.
    private const string PrimitivesOnly = "Every payload field is a primitive value.";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe EventData Field<T>(T* value) where T : unmanaged =>
        new() { DataPointer = (nint)value, Size = sizeof(T) };

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteTable(int eventId, ulong space, int level, ulong pfn, bool kernel)
    {
        int kernelValue = kernel ? 1 : 0;
        EventData* data = stackalloc EventData[4];
        data[0] = Field(&space);
        data[1] = Field(&level);
        data[2] = Field(&pfn);
        data[3] = Field(&kernelValue);
        WriteEventCore(eventId, 4, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteMapRange(ulong space, ulong address, ulong length, long leaves, long tablesAllocated)
    {
        EventData* data = stackalloc EventData[5];
        data[0] = Field(&space);
        data[1] = Field(&address);
        data[2] = Field(&length);
        data[3] = Field(&leaves);
        data[4] = Field(&tablesAllocated);
        WriteEventCore(3, 5, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteRangeAndLong(int eventId, ulong space, ulong address, ulong length, long value)
    {
        EventData* data = stackalloc EventData[4];
        data[0] = Field(&space);
        data[1] = Field(&address);
        data[2] = Field(&length);
        data[3] = Field(&value);
        WriteEventCore(eventId, 4, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteRangeAndInt(int eventId, ulong space, ulong address, ulong length, int value)
    {
        EventData* data = stackalloc EventData[4];
        data[0] = Field(&space);
        data[1] = Field(&address);
        data[2] = Field(&length);
        data[3] = Field(&value);
        WriteEventCore(eventId, 4, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteTableSplit(ulong space, int level, ulong address)
    {
        EventData* data = stackalloc EventData[3];
        data[0] = Field(&space);
        data[1] = Field(&level);
        data[2] = Field(&address);
        WriteEventCore(6, 3, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteTlbFlush(ulong space, FlushKind kind, ulong start, ulong end, int contexts)
    {
        int kindValue = (int)kind;
        EventData* data = stackalloc EventData[5];
        data[0] = Field(&space);
        data[1] = Field(&kindValue);
        data[2] = Field(&start);
        data[3] = Field(&end);
        data[4] = Field(&contexts);
        WriteEventCore(7, 5, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteContextInvalidated(ulong space, int context, long requests, bool full)
    {
        int fullValue = full ? 1 : 0;
        EventData* data = stackalloc EventData[4];
        data[0] = Field(&space);
        data[1] = Field(&context);
        data[2] = Field(&requests);
        data[3] = Field(&fullValue);
        WriteEventCore(8, 4, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteTwoLongs(int eventId, long first, long second)
    {
        EventData* data = stackalloc EventData[2];
        data[0] = Field(&first);
        data[1] = Field(&second);
        WriteEventCore(eventId, 2, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteTwoLongsAndBool(int eventId, ulong first, ulong second, bool flag)
    {
        int flagValue = flag ? 1 : 0;
        EventData* data = stackalloc EventData[3];
        data[0] = Field(&first);
        data[1] = Field(&second);
        data[2] = Field(&flagValue);
        WriteEventCore(eventId, 3, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteHotAddStop(ulong start, ulong size, long memmapPages, long tablesAllocated, bool success)
    {
        int successValue = success ? 1 : 0;
        EventData* data = stackalloc EventData[5];
        data[0] = Field(&start);
        data[1] = Field(&size);
        data[2] = Field(&memmapPages);
        data[3] = Field(&tablesAllocated);
        data[4] = Field(&successValue);
        WriteEventCore(11, 5, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteHotRemoveStop(ulong start, ulong size, long memmapFramesFreed, long tablesFreed, long bytesMarkedUnused, bool success)
    {
        int successValue = success ? 1 : 0;
        EventData* data = stackalloc EventData[6];
        data[0] = Field(&start);
        data[1] = Field(&size);
        data[2] = Field(&memmapFramesFreed);
        data[3] = Field(&tablesFreed);
        data[4] = Field(&bytesMarkedUnused);
        data[5] = Field(&successValue);
        WriteEventCore(13, 6, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteTwoInts(int eventId, int first, int second)
    {
        EventData* data = stackalloc EventData[2];
        data[0] = Field(&first);
        data[1] = Field(&second);
        WriteEventCore(eventId, 2, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteVmemmapBatchStop(bool optimize, int folios, long pagesFreed, long pagesRestored, int flushes)
    {
        int optimizeValue = optimize ? 1 : 0;
        EventData* data = stackalloc EventData[5];
        data[0] = Field(&optimizeValue);
        data[1] = Field(&folios);
        data[2] = Field(&pagesFreed);
        data[3] = Field(&pagesRestored);
        data[4] = Field(&flushes);
        WriteEventCore(21, 5, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteLongAndInt(int eventId, long first, int second)
    {
        EventData* data = stackalloc EventData[2];
        data[0] = Field(&first);
        data[1] = Field(&second);
        WriteEventCore(eventId, 2, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteThreeInts(int eventId, int first, int second, int third)
    {
        EventData* data = stackalloc EventData[3];
        data[0] = Field(&first);
        data[1] = Field(&second);
        data[2] = Field(&third);
        WriteEventCore(eventId, 3, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteLockContended(int level, ulong pfn, int spins)
    {
        EventData* data = stackalloc EventData[3];
        data[0] = Field(&level);
        data[1] = Field(&pfn);
        data[2] = Field(&spins);
        WriteEventCore(40, 3, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WritePageFault(ulong space, ulong address, int access, int reason)
    {
        EventData* data = stackalloc EventData[4];
        data[0] = Field(&space);
        data[1] = Field(&address);
        data[2] = Field(&access);
        data[3] = Field(&reason);
        WriteEventCore(50, 4, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteRangeAndTwoInts(int eventId, ulong space, ulong address, ulong length, int first, int second)
    {
        EventData* data = stackalloc EventData[5];
        data[0] = Field(&space);
        data[1] = Field(&address);
        data[2] = Field(&length);
        data[3] = Field(&first);
        data[4] = Field(&second);
        WriteEventCore(eventId, 5, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WriteTwoLongsTwoInts(int eventId, ulong first, ulong second, int third, int fourth)
    {
        EventData* data = stackalloc EventData[4];
        data[0] = Field(&first);
        data[1] = Field(&second);
        data[2] = Field(&third);
        data[3] = Field(&fourth);
        WriteEventCore(eventId, 4, data);
    }
}

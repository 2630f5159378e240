using System.Diagnostics.CodeAnalysis;
using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;

namespace FastPt.Diagnostics;

/// <summary>The payload writers: one generic writer per field count, out of line so that the event methods stay
/// small enough to inline into hot paths. Each passes its fields to <c>WriteEventCore</c> through stack-allocated
/// <see cref="EventSource.EventData"/> descriptors (the <c>params object[]</c> overload would box every field).
/// The field types are the event method's parameter types, in order: 8 bytes for <c>long</c>/<c>ulong</c>, 4 for
/// <c>int</c>; an enum is passed as its <c>int</c> and a <c>bool</c> as <see cref="Flag"/> (EventSource writes a
/// bool as a 32-bit BOOL).</summary>
public sealed partial class FastPtEventSource
{
    // WriteEventCore is marked as needing unreferenced code because a payload might be an object graph; every
    // field written here is an unmanaged value, which the trimmer cannot take away.
    private const string PrimitivesOnly = "Every payload field is an unmanaged primitive value.";

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe EventData Field<T>(T* value) where T : unmanaged =>
        new() { DataPointer = (nint)value, Size = sizeof(T) };

    /// <summary>A bool field as EventSource's 32-bit BOOL.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Flag(bool value) => value ? 1 : 0;

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WritePayload<T1, T2>(int eventId, T1 f1, T2 f2)
        where T1 : unmanaged where T2 : unmanaged
    {
        EventData* data = stackalloc EventData[2];
        data[0] = Field(&f1);
        data[1] = Field(&f2);
        WriteEventCore(eventId, 2, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WritePayload<T1, T2, T3>(int eventId, T1 f1, T2 f2, T3 f3)
        where T1 : unmanaged where T2 : unmanaged where T3 : unmanaged
    {
        EventData* data = stackalloc EventData[3];
        data[0] = Field(&f1);
        data[1] = Field(&f2);
        data[2] = Field(&f3);
        WriteEventCore(eventId, 3, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WritePayload<T1, T2, T3, T4>(int eventId, T1 f1, T2 f2, T3 f3, T4 f4)
        where T1 : unmanaged where T2 : unmanaged where T3 : unmanaged where T4 : unmanaged
    {
        EventData* data = stackalloc EventData[4];
        data[0] = Field(&f1);
        data[1] = Field(&f2);
        data[2] = Field(&f3);
        data[3] = Field(&f4);
        WriteEventCore(eventId, 4, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WritePayload<T1, T2, T3, T4, T5>(int eventId, T1 f1, T2 f2, T3 f3, T4 f4, T5 f5)
        where T1 : unmanaged where T2 : unmanaged where T3 : unmanaged where T4 : unmanaged where T5 : unmanaged
    {
        EventData* data = stackalloc EventData[5];
        data[0] = Field(&f1);
        data[1] = Field(&f2);
        data[2] = Field(&f3);
        data[3] = Field(&f4);
        data[4] = Field(&f5);
        WriteEventCore(eventId, 5, data);
    }

    [NonEvent, MethodImpl(MethodImplOptions.NoInlining)]
    [UnconditionalSuppressMessage("Trimming", "IL2026", Justification = PrimitivesOnly)]
    private unsafe void WritePayload<T1, T2, T3, T4, T5, T6>(int eventId, T1 f1, T2 f2, T3 f3, T4 f4, T5 f5, T6 f6)
        where T1 : unmanaged where T2 : unmanaged where T3 : unmanaged where T4 : unmanaged where T5 : unmanaged where T6 : unmanaged
    {
        EventData* data = stackalloc EventData[6];
        data[0] = Field(&f1);
        data[1] = Field(&f2);
        data[2] = Field(&f3);
        data[3] = Field(&f4);
        data[4] = Field(&f5);
        data[5] = Field(&f6);
        WriteEventCore(eventId, 6, data);
    }
}

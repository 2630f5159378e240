using System;
using System.Globalization;

namespace FastPt;

/// <summary>A virtual address. Wraps the raw 64-bit value; canonical form is checked where it matters
/// (by the address space and the MMU), not at construction, so that faults can report any address.</summary>
public readonly struct VirtAddr : IEquatable<VirtAddr>, IComparable<VirtAddr>, ISpanFormattable
{
    /// <summary>Creates a virtual address from its raw value.</summary>
    public VirtAddr(ulong value) => Value = value;

    /// <summary>The raw 64-bit value.</summary>
    public ulong Value { get; }

    /// <summary>Converts a raw value to a virtual address.</summary>
    public static explicit operator VirtAddr(ulong value) => new(value);

    /// <summary>The address <paramref name="offset"/> bytes above <paramref name="address"/>.</summary>
    public static VirtAddr operator +(VirtAddr address, ulong offset) => new(address.Value + offset);

    /// <summary>The address <paramref name="offset"/> bytes below <paramref name="address"/>.</summary>
    public static VirtAddr operator -(VirtAddr address, ulong offset) => new(address.Value - offset);

    /// <summary>The distance in bytes between two addresses.</summary>
    public static ulong operator -(VirtAddr left, VirtAddr right) => left.Value - right.Value;

    /// <inheritdoc cref="IEquatable{T}.Equals(T)"/>
    public static bool operator ==(VirtAddr left, VirtAddr right) => left.Value == right.Value;

    /// <summary>Inequality.</summary>
    public static bool operator !=(VirtAddr left, VirtAddr right) => left.Value != right.Value;

    /// <summary>Ordering.</summary>
    public static bool operator <(VirtAddr left, VirtAddr right) => left.Value < right.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >(VirtAddr left, VirtAddr right) => left.Value > right.Value;

    /// <summary>Ordering.</summary>
    public static bool operator <=(VirtAddr left, VirtAddr right) => left.Value <= right.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >=(VirtAddr left, VirtAddr right) => left.Value >= right.Value;

    /// <summary>True when the address is a multiple of <paramref name="size"/>.</summary>
    public bool IsAligned(PageSize size) => (Value & (size.Bytes() - 1)) == 0;

    /// <summary>The address rounded down to a multiple of <paramref name="size"/>.</summary>
    public VirtAddr AlignDown(PageSize size) => new(Value & ~(size.Bytes() - 1));

    /// <inheritdoc/>
    public bool Equals(VirtAddr other) => Value == other.Value;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is VirtAddr other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value.GetHashCode();

    /// <inheritdoc/>
    public int CompareTo(VirtAddr other) => Value.CompareTo(other.Value);

    /// <summary>Hexadecimal, as <c>0x00007f0000001000</c>.</summary>
    public override string ToString() => AddressFormat.Hex(Value);

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        AddressFormat.TryFormat(Value, destination, out charsWritten);
}

/// <summary>A physical address in the simulated machine.</summary>
public readonly struct PhysAddr : IEquatable<PhysAddr>, IComparable<PhysAddr>, ISpanFormattable
{
    /// <summary>Creates a physical address from its raw value.</summary>
    public PhysAddr(ulong value) => Value = value;

    /// <summary>The raw value.</summary>
    public ulong Value { get; }

    /// <summary>The page frame number (address divided by 4 KiB).</summary>
    public ulong Pfn => Value >> 12;

    /// <summary>The physical address of frame <paramref name="pfn"/>.</summary>
    public static PhysAddr FromPfn(ulong pfn) => new(pfn << 12);

    /// <summary>Converts a raw value to a physical address.</summary>
    public static explicit operator PhysAddr(ulong value) => new(value);

    /// <summary>The address <paramref name="offset"/> bytes above <paramref name="address"/>.</summary>
    public static PhysAddr operator +(PhysAddr address, ulong offset) => new(address.Value + offset);

    /// <summary>The distance in bytes between two addresses.</summary>
    public static ulong operator -(PhysAddr left, PhysAddr right) => left.Value - right.Value;

    /// <summary>Equality.</summary>
    public static bool operator ==(PhysAddr left, PhysAddr right) => left.Value == right.Value;

    /// <summary>Inequality.</summary>
    public static bool operator !=(PhysAddr left, PhysAddr right) => left.Value != right.Value;

    /// <summary>Ordering.</summary>
    public static bool operator <(PhysAddr left, PhysAddr right) => left.Value < right.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >(PhysAddr left, PhysAddr right) => left.Value > right.Value;

    /// <summary>Ordering.</summary>
    public static bool operator <=(PhysAddr left, PhysAddr right) => left.Value <= right.Value;

    /// <summary>Ordering.</summary>
    public static bool operator >=(PhysAddr left, PhysAddr right) => left.Value >= right.Value;

    /// <summary>True when the address is a multiple of <paramref name="size"/>.</summary>
    public bool IsAligned(PageSize size) => (Value & (size.Bytes() - 1)) == 0;

    /// <inheritdoc/>
    public bool Equals(PhysAddr other) => Value == other.Value;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PhysAddr other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => Value.GetHashCode();

    /// <inheritdoc/>
    public int CompareTo(PhysAddr other) => Value.CompareTo(other.Value);

    /// <summary>Hexadecimal, as <c>0x0000000040000000</c>.</summary>
    public override string ToString() => AddressFormat.Hex(Value);

    /// <inheritdoc/>
    public string ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        AddressFormat.TryFormat(Value, destination, out charsWritten);
}

/// <summary>How both kinds of address print: 0x and 16 hex digits.</summary>
internal static class AddressFormat
{
    private const int Length = 18;

    public static string Hex(ulong value) => "0x" + value.ToString("x16", CultureInfo.InvariantCulture);

    public static bool TryFormat(ulong value, Span<char> destination, out int charsWritten)
    {
        if (destination.Length < Length)
        {
            charsWritten = 0;
            return false;
        }
        "0x".AsSpan().CopyTo(destination);
        value.TryFormat(destination[2..], out int digits, "x16", CultureInfo.InvariantCulture);
        charsWritten = 2 + digits;
        return true;
    }
}

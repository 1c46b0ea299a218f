// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_CSV_H
#define TADLORA_CSV_H

#include <ostream>
#include <vector>

/**
 * @file
 * CSV traces whose columns are declared once, in one table per trace: the header is written
 * from the same table as the rows. Numbers take the stream's own format.
 */

namespace ns3
{

/** @brief One column of a CSV trace: its name, and how a row writes its value. */
template<typename Row>
struct TadLoraColumn
{
    const char* name;                             //!< header
    void (*write)(std::ostream& out, const Row&); //!< writes the row's value
};

/** @brief The columns of a CSV trace, in order. */
template<typename Row>
using TadLoraColumns = std::vector<TadLoraColumn<Row>>;

/**
 * @param out the trace
 * @param columns its columns
 */
template<typename Row>
void
WriteCsvHeader(std::ostream& out, const TadLoraColumns<Row>& columns)
{
    for (size_t k = 0; k < columns.size(); ++k)
    {
        out << (k == 0 ? "" : ",") << columns[k].name;
    }
    out << "\n";
}

/**
 * @param out the trace
 * @param columns its columns
 * @param row the row to write
 */
template<typename Row>
void
WriteCsvRow(std::ostream& out, const TadLoraColumns<Row>& columns, const Row& row)
{
    for (size_t k = 0; k < columns.size(); ++k)
    {
        out << (k == 0 ? "" : ",");
        columns[k].write(out, row);
    }
    out << "\n";
}

} // namespace ns3

#endif // TADLORA_CSV_H

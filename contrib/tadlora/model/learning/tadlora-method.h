// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_METHOD_H
#define TADLORA_METHOD_H

#include <cstdint>
#include <string>
#include <vector>

/**
 * @file
 * The five decentralized LoRA methods as data, and the alternating scheduler they share.
 */

namespace tadlora
{

/** @brief One of the two LoRA factors of an adapted layer: W x + (alpha / r) B A x. */
enum class Factor : uint8_t
{
    A = 0, //!< down projection, r x d_in
    B = 1, //!< up projection, d_out x r
};

/**
 * @brief Which factors a method trains and which it mixes in one round.
 */
struct RoundPlan
{
    bool trainA; //!< A gets optimizer steps this round
    bool trainB; //!< B gets optimizer steps this round
    bool mixA;   //!< A is exchanged with neighbours and mixed this round
    bool mixB;   //!< B is exchanged with neighbours and mixed this round

    /** @param factor A or B @return whether the factor gets optimizer steps this round */
    bool Trains(Factor factor) const;
    /** @return the factors to exchange and mix, A before B */
    std::vector<Factor> MixedFactors() const;
    /** @return "AB", "A" or "B": the factors trained this round */
    std::string TrainedLabel() const;
};

/**
 * @brief A method, as the table in DESIGN.md section 1 defines it.
 *
 * Every method is one row: which factors train (both, B only, or the scheduler's phase) and
 * which are mixed (both, or only the trained ones). The alternating scheduler is shared:
 * phase(t) = B when floor(t / T) is even, else A.
 */
class Method
{
public:
    /**
     * @brief Look a method up by its command-line name.
     * @param name lora, ffa-lora, rolora, tad-lora-no-joint or tad-lora
     * @param switchInterval T (>= 1); rolora ignores it and always alternates every round
     * @throws std::invalid_argument naming the allowed methods
     */
    Method(const std::string& name, uint32_t switchInterval);

    /** @return the command-line names of all methods, in the table's order */
    static std::vector<std::string> Names();

    /** @return the method's command-line name */
    const std::string& Name() const;
    /** @return the switching interval in effect (1 for rolora) */
    uint32_t SwitchInterval() const;
    /** @return whether it trains one factor at a time, as the scheduler's phase says */
    bool Alternates() const;
    /** @return whether the switching interval T given to it is the one it uses */
    bool TakesSwitchInterval() const;
    /** @param round the round, counted from 0 @return the scheduler's phase in that round */
    Factor Phase(uint64_t round) const;
    /** @param round the round, counted from 0 @return what trains and what mixes in it */
    RoundPlan Plan(uint64_t round) const;

private:
    /** @brief Which factors train. */
    enum class Trains
    {
        Both,
        BOnly,
        Phase,
    };
    /** @brief Which factors are mixed. */
    enum class Mixes
    {
        Both,
        Trained,
    };
    /** @brief One row of the methods table. */
    struct Row
    {
        const char* name;       //!< command-line name
        Trains trains;          //!< which factors train
        Mixes mixes;            //!< which factors are mixed
        uint32_t fixedInterval; //!< switching interval fixed by the method, 0 if T applies
    };
    static const Row kTable[]; //!< the five methods

    const Row* m_row;          //!< this method's row
    std::string m_name;        //!< copy of m_row->name
    uint32_t m_switchInterval; //!< T in effect
};

} // namespace tadlora

#endif // TADLORA_METHOD_H

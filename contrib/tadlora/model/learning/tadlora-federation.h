// SPDX-License-Identifier: GPL-2.0-only
#ifndef TADLORA_FEDERATION_H
#define TADLORA_FEDERATION_H

#include "tadlora-learner.h"
#include "tadlora-method.h"
#include "tadlora-metrics.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

/**
 * @file
 * The learning side of a decentralized federation: every client's LoRA factors over one shared
 * frozen base, and the operations the network side sequences (train, serialize, mix, evaluate).
 */

namespace tadlora
{

struct TaskData;
struct TransformerClassifierImpl;

/** @brief What a Byzantine client sends in place of its factor (fault injection). */
enum class ByzantineMode
{
    Random, //!< random: Gaussian noise of the factor's own RMS, which passes any magnitude bound
    Nan,    //!< nan: every value NaN
    Scaled, //!< scaled: the factor times FederationConfig::byzantineScale
};

/** @brief The learning knobs of a federation. */
struct FederationConfig
{
    std::string method = "tad-lora"; //!< lora, ffa-lora, rolora, tad-lora-no-joint, tad-lora
    uint32_t switchInterval = 5;     //!< T
    uint32_t localSteps = 20;        //!< K optimizer steps per round
    uint32_t batchSize = 32;         //!< samples per step
    double lr = 1e-3;                //!< AdamW learning rate
    double weightDecay = 0.01;       //!< AdamW weight decay
    bool keepOptimizerState = false; //!< keep each client's AdamW moments across rounds
    uint64_t seed = 1;               //!< the run's seed: shared A init and per-client batches
    /**
     * Asynchronous switching: client i trains the factor of phase(t + o_i), with its offset o_i
     * drawn once, uniformly from {0, ..., phaseJitter}. What is exchanged and mixed still
     * follows the shared round clock. 0: every client switches together (the paper).
     */
    uint32_t phaseJitter = 0;
    /** Decode refuses a message holding a value of a larger magnitude (Rejection::Magnitude). */
    double maxFactorValue = 100;
    /**
     * Fault injection: this many clients, drawn from the seed, send well-formed messages of
     * hostile values (byzantineMode) in place of their factors. They train and mix as the
     * others do; Evaluate and Diagnose count only the honest clients.
     */
    uint32_t byzantine = 0;
    ByzantineMode byzantineMode = ByzantineMode::Random; //!< what the Byzantine clients send
    double byzantineScale = 10;                          //!< Scaled: the factor times this
    /**
     * How factors travel (--compress). With TopK each client keeps, per factor, what it left
     * out (error feedback): the next message it sends carries the factor plus that residual,
     * so no value's mass is lost, only delayed.
     */
    Codec codec;
};

/**
 * @brief All clients of one run: their data shards, LoRA factors and optimizer state, and the
 * operations the network side sequences (train, serialize, mix, evaluate).
 *
 * The frozen base is held once; the clients' factors are stacked (LoraFactors), trained by
 * one BatchedTrainer and evaluated by one BatchedEvaluator. Results do not depend on the order
 * in which clients are trained or mixed: every client draws its batches from a generator of
 * its own, derived from the run's seed.
 *
 * Lookahead. Each client trains at its own simulated time, but training them one at a time
 * would waste the machine. So the first Train call of a round trains, in one batched pass,
 * that client and every other client whose inputs to that round are final: a client is final
 * for round t once it has called EndRound(t - 1) (or, for round 0, before it has done anything),
 * since nothing changes its factors between the end of one round and its training in the
 * next. The others' results wait, and each client's own Train call takes its own, so factors
 * change at their owner's simulated time. When rounds are not in lockstep, a client that has
 * not ended its previous round yet is simply left out, and trained by a later pass when its
 * own Train call comes. With ns-3's round barrier every client ends round t - 1 before any
 * starts round t, so each round is one pass.
 */
class Federation : public Learner
{
public:
    /**
     * @param config the learning knobs
     * @param model the pretrained model (base and head frozen)
     * @param data the task
     * @param shards each client's training sample indices
     */
    Federation(const FederationConfig& config, std::shared_ptr<TransformerClassifierImpl> model,
               std::shared_ptr<const TaskData> data,
               const std::vector<std::vector<uint32_t>>& shards);
    ~Federation() override;
    Federation(const Federation&) = delete;
    Federation& operator=(const Federation&) = delete;

    /** @return the number of clients m */
    uint32_t Clients() const;
    /** @return the learning knobs */
    const FederationConfig& Config() const;
    /** @return the method and its scheduler */
    const Method& GetMethod() const;

    /**
     * @param client a client
     * @return o_i, the rounds by which the client's phase boundaries lag (FederationConfig)
     */
    uint32_t PhaseOffset(uint32_t client) const;

    /**
     * @brief Run the round's K local AdamW steps on a client's trainable factors (computed
     * ahead with the other clients whose inputs are final, see the class's description).
     * @param client the client
     * @param round the round, which (shifted by the client's phase offset) selects the
     *        trainable factors
     * @return the mean training loss over the K steps
     * @throws std::logic_error if the client was trained ahead for another round
     */
    double Train(uint32_t client, uint64_t round) override;

    /**
     * @brief A client has finished a round (trained and mixed): its factors are final inputs
     * to its training in the next round, which may then run ahead with another client's.
     * @param client the client
     * @param round the round it finished
     */
    void EndRound(uint32_t client, uint64_t round) override;

    uint32_t LocalSteps() const override;
    /** @return TrainingFlopsPerSample of the model x the batch size */
    double FlopsPerStep() const override;
    std::vector<Factor> MixedFactors(uint64_t round) const override;
    /** @copydoc Learner::Serialize; a Byzantine client's values are hostile (ByzantineMode) */
    std::vector<uint8_t> Serialize(uint32_t client, Factor factor, uint64_t round) override;
    /**
     * @copydoc Learner::Decode
     * @throws MessageError also for a NaN or infinite value (Rejection::NonFinite) or one whose
     *         magnitude exceeds FederationConfig::maxFactorValue (Rejection::Magnitude)
     */
    FactorMessage Decode(const std::vector<uint8_t>& bytes) override;
    /**
     * @copydoc Learner::Mix
     * @throws std::logic_error if the client already trained ahead (it ended its round), or a
     *         message is not of this factor
     */
    void Mix(uint32_t client, Factor factor, double selfWeight,
             const std::vector<WeightedFactor>& neighbours) override;

    /**
     * @brief The learning state between two rounds, for a checkpoint: every client's factors,
     * batch generator and AdamW state, and which messages sent so far hold values Decode
     * refuses. Called when every client has ended the round before nextRound and none has
     * trained it.
     * @param nextRound the first round not yet run
     * @return the state, as bytes
     * @throws std::logic_error if a client has trained ahead into nextRound
     */
    std::string Checkpoint(uint64_t nextRound) const;

    /**
     * @brief Take up a checkpoint's state, to replay the rounds before it: a resumed run
     * simulates the network again from the start (its events do not depend on learned values),
     * while the learning side skips those rounds. Their Train calls return 0 and change nothing,
     * their Mix calls do nothing, and their messages are refused exactly where the original
     * messages were (their values are not the original ones). From the checkpoint's round on
     * the federation runs as if it had never stopped.
     * @param state bytes from Checkpoint, of a federation of the same configuration
     * @return the checkpoint's round: the first round that learns again
     * @throws std::runtime_error if the state does not load or does not fit
     */
    uint64_t Restore(const std::string& state);

    /** @return wall-clock seconds spent in Train so far */
    double TrainSeconds() const;
    /** @return wall-clock seconds spent in Serialize, Decode and Mix so far */
    double ExchangeSeconds() const;

    /** @return the Byzantine clients (FederationConfig::byzantine), in increasing order */
    const std::vector<uint32_t>& Byzantine() const;

    /** @return the honest clients' current disagreement; cheap */
    Disagreement Diagnose() const;
    /**
     * @return accuracy of the honest clients' current factors on the held-out set (their
     *         models, and the model of their average); runs every honest client's model
     */
    Accuracy Evaluate();
    /** @return accuracy of the frozen base before fine-tuning (B = 0) */
    double BaseAccuracy();

    /**
     * @param client the client
     * @param factor the factor
     * @return a copy of the client's factor, layer after layer, each row-major
     */
    std::vector<float> FactorValues(uint32_t client, Factor factor) const;

private:
    struct Impl;
    std::unique_ptr<Impl> m_impl; //!< keeps LibTorch out of this header
};

} // namespace tadlora

#endif // TADLORA_FEDERATION_H
